import EunomiaOutput
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Literals converted to what a field holds, once at compile time.
extension ConditionCompiler {
    /// A number for an integer field: decimal, 0x hex or 0o octal; a name the field's output
    /// shows (a values name, SIGKILL, ENOENT, CAP_SYS_ADMIN, openat; for errno_name fields ENOENT is -2, as printed);
    /// for scaled fields, a value in the unit shown (1.5 for 1.5 ms of a ns field). A field
    /// shown as a number may have a twin over the same bytes shown by name (sigsnoop's sig and
    /// signal): its names count too, so `sig == SIGKILL` reads as meant.
    static func integer(_ lit: ConditionLiteral, _ field: FieldSpec, in record: RecordLayout) throws -> Int128 {
        let text = lit.text
        var value: Int128?
        if let scale = field.scale {
            if let d = Double(text), d.isFinite, abs(d) < 1e30 { value = Int128((d * Double(scale)).rounded()) }
        } else {
            value = number(text)
        }
        let twins = [field] + record.fields.filter { $0.offset == field.offset && $0.size == field.size && $0.type == field.type && $0.name != field.name }
        for f in twins where value == nil { value = named(text, f) }
        guard let v = value else {
            let hint = twins.lazy.map(namesHint).first { !$0.isEmpty } ?? ""
            throw ConditionError(position: lit.position, message: "'\(text)' is not a number\(hint.isEmpty ? "" : " or a name") for '\(field.name)'\(hint)")
        }
        let (lo, hi) = range(field.type)
        guard v >= lo && v <= hi else {
            throw ConditionError(position: lit.position, message: "\(text) is outside what '\(field.name)' (\(field.type.rawValue)) holds: \(lo) to \(hi)")
        }
        return v
    }

    static func number(_ text: String) -> Int128? {
        var t = Substring(text)
        let negative = t.hasPrefix("-")
        if negative { t = t.dropFirst() }
        var radix = 10
        if t.hasPrefix("0x") || t.hasPrefix("0X") { radix = 16; t = t.dropFirst(2) }
        else if t.hasPrefix("0o") { radix = 8; t = t.dropFirst(2) }
        guard !t.isEmpty, t.count <= 40, let magnitude = UInt64(t, radix: radix) else { return nil }
        return negative ? -Int128(magnitude) : Int128(magnitude)
    }

    static func named(_ text: String, _ field: FieldSpec) -> Int128? {
        if let values = field.values, let key = values.first(where: { $0.value == text })?.key, let n = Int64(key) { return Int128(n) }
        switch field.display {
        case .signal?: return Signals.number(named: text).map { Int128($0) }
        case .capability?: return Capabilities.number(named: text).map { Int128($0) }
        case .syscall?: return Syscalls.number(named: text).map { Int128($0) }
        case .errno?: return Errnos.number(named: text).map { Int128($0) }
        case .errnoName?: return Errnos.number(named: text).map { -Int128($0) }
        default: return nil
        }
    }

    static func namesHint(_ field: FieldSpec) -> String {
        if let values = field.values {
            let names = values.values.sorted()
            return " (its names: \(names.prefix(12).joined(separator: ", "))\(names.count > 12 ? ", ..." : ""))"
        }
        switch field.display {
        case .signal?: return " (a signal name such as SIGKILL)"
        case .capability?: return " (a capability name such as CAP_SYS_ADMIN)"
        case .syscall?: return " (a system call name such as openat)"
        case .errno?, .errnoName?: return " (an errno name such as ENOENT)"
        default: return ""
        }
    }

    static func range(_ type: FieldType) -> (Int128, Int128) {
        switch type {
        case .u8, .bool: return (0, Int128(UInt8.max))
        case .u16: return (0, Int128(UInt16.max))
        case .u32: return (0, Int128(UInt32.max))
        case .u64: return (0, Int128(UInt64.max))
        case .i8: return (Int128(Int8.min), Int128(Int8.max))
        case .i16: return (Int128(Int16.min), Int128(Int16.max))
        case .i32: return (Int128(Int32.min), Int128(Int32.max))
        default: return (Int128(Int64.min), Int128(Int64.max))
        }
    }

    /// `contains` on a flags field: every bit of a name (O_CREAT, a bits name) or a number;
    /// for open flags, O_RDONLY, O_WRONLY and O_RDWR compare the access mode.
    static func flag(_ lit: ConditionLiteral, _ field: FieldSpec, offset: Int32, width: UInt8) throws -> ConditionStep {
        if field.display == .openFlags {
            if let mode = OpenFlags.accessMode(named: lit.text) { return .accessMode(offset: offset, width: width, mode: mode) }
            if let bit = OpenFlags.bit(named: lit.text) { return .bits(offset: offset, width: width, mask: bit) }
        } else if let bits = field.bits {
            if let mask = bits[lit.text] { return .bits(offset: offset, width: width, mask: mask) }
        } else {
            throw ConditionError(position: lit.position, message: "'\(field.name)' holds no flags: contains applies to open flags and bits fields")
        }
        if let n = number(lit.text), n > 0, n <= Int128(UInt64.max) { return .bits(offset: offset, width: width, mask: UInt64(n)) }
        let known = field.display == .openFlags ? ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "..."] : (field.bits ?? [:]).keys.sorted()
        throw ConditionError(position: lit.position, message: "'\(lit.text)' is not a flag of '\(field.name)' (\(known.joined(separator: ", ")))")
    }

    static func boolean(_ lit: ConditionLiteral, _ field: FieldSpec) throws -> Bool {
        switch lit.text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw ConditionError(position: lit.position, message: "'\(lit.text)' is not true or false, which '\(field.name)' holds")
        }
    }

    /// An address as the record holds it: 4 bytes for ipv4 fields, 16 for ipv6 and ip (an IPv4
    /// address as ::ffff:a.b.c.d, which is how ip fields hold one).
    static func address(_ lit: ConditionLiteral, _ field: FieldSpec) throws -> [UInt8] {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, lit.text, &v4) == 1 {
            let four = withUnsafeBytes(of: &v4) { Array($0) }
            if field.size == 4 { return four }
            return [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + four
        }
        if field.size == 16, inet_pton(AF_INET6, lit.text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        throw ConditionError(position: lit.position, message: "'\(lit.text)' is not an IP\(field.size == 4 ? "v4" : "") address, which '\(field.name)' holds")
    }
}
