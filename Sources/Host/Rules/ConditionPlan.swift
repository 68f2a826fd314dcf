import EunomiaRecords
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The container attributes a condition can name (Falco's field names).
public enum ContainerAttribute: String, CaseIterable, Sendable {
    case id = "container.id", name = "container.name", image = "container.image", runtime = "container.runtime"
    case pod = "k8s.pod.name", namespace = "k8s.ns.name"
}

enum TextTest: UInt8 { case equal, startsWith, endsWith, contains, glob }

/// One step of a compiled condition. Trivially copyable, kept in unmanaged storage: evaluating
/// a record reads the steps and the record's bytes, allocates nothing and counts no references.
enum ConditionStep {
    case constant(Bool)
    /// Children are `count` step indices in `children` from `first`.
    case all(first: Int32, count: Int32)
    case any(first: Int32, count: Int32)
    case not(Int32)
    case integer(offset: Int32, width: UInt8, signed: Bool, op: ComparisonOperator, value: Int128)
    /// Values are `count` entries of `numbers` from `first`.
    case integerIn(offset: Int32, width: UInt8, signed: Bool, first: Int32, count: Int32)
    /// Every bit of mask set.
    case bits(offset: Int32, width: UInt8, mask: UInt64)
    /// open(2)'s access mode (the low two bits) equal to mode.
    case accessMode(offset: Int32, width: UInt8, mode: UInt64)
    /// A text field: up to its first NUL, or (argv) NUL-separated strings compared as one
    /// space-separated text, as the outputs show them. `negate` turns == into !=.
    case text(offset: Int32, size: Int32, argv: Bool, test: TextTest, literal: Int32, negate: Bool)
    case textIn(offset: Int32, size: Int32, argv: Bool, first: Int32, count: Int32)
    /// Raw bytes (an address) equal to one of `count` literals from `first`; negate for !=.
    case bytesIn(offset: Int32, size: Int32, first: Int32, count: Int32, negate: Bool)
    case container(ContainerAttribute, cgroup: Int32, test: TextTest, literal: Int32, negate: Bool)
    case containerIn(ContainerAttribute, cgroup: Int32, first: Int32, count: Int32)
    case containerExists(ContainerAttribute, cgroup: Int32)
}

/// A condition compiled against one schema: a root step per record id, the steps, and the
/// literal tables they index. Built once (ConditionCompiler); evaluated per record.
public final class CompiledCondition {
    let steps: UnsafeMutableBufferPointer<ConditionStep>
    let children: UnsafeMutableBufferPointer<Int32>
    let numbers: UnsafeMutableBufferPointer<Int128>
    /// Literal texts and addresses, end to end; `literals` holds (start, count) into it.
    let literalBytes: UnsafeMutableRawBufferPointer
    let literals: UnsafeMutableBufferPointer<(start: Int32, count: Int32)>
    /// (record id, root step, bytes a record needs for the condition to read it).
    let roots: UnsafeMutableBufferPointer<(id: UInt32, root: Int32, minimum: Int32)>
    /// Container metadata for container.* checks (nil: none known, such checks are false).
    let containers: ContainerDirectory?

    init(steps: [ConditionStep], children: [Int32], numbers: [Int128], literals: [[UInt8]],
         roots: [(id: UInt32, root: Int32, minimum: Int32)], containers: ContainerDirectory?) {
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
            _ = p.initialize(from: a)
            return UnsafeMutableBufferPointer(rebasing: p[0..<a.count])
        }
        self.steps = copy(steps)
        self.children = copy(children)
        self.numbers = copy(numbers)
        self.roots = copy(roots)
        let total = literals.reduce(0) { $0 + $1.count }
        let pool = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, total), alignment: 1)
        var ranges: [(start: Int32, count: Int32)] = []
        var at = 0
        for l in literals {
            l.withUnsafeBytes { src in
                if let from = src.baseAddress { pool.baseAddress!.advanced(by: at).copyMemory(from: from, byteCount: l.count) }
            }
            ranges.append((Int32(at), Int32(l.count)))
            at += l.count
        }
        literalBytes = pool
        self.literals = copy(ranges)
        self.containers = containers
    }

    deinit {
        steps.baseAddress.map { UnsafeMutableBufferPointer(start: $0, count: max(1, steps.count)).deallocate() }
        children.baseAddress.map { UnsafeMutableBufferPointer(start: $0, count: max(1, children.count)).deallocate() }
        numbers.baseAddress.map { UnsafeMutableBufferPointer(start: $0, count: max(1, numbers.count)).deallocate() }
        roots.baseAddress.map { UnsafeMutableBufferPointer(start: $0, count: max(1, roots.count)).deallocate() }
        literals.baseAddress.map { UnsafeMutableBufferPointer(start: $0, count: max(1, literals.count)).deallocate() }
        literalBytes.deallocate()
    }

    /// Whether the record satisfies the condition. A record id the schema does not declare, or
    /// a record too short for the fields the condition reads, does not.
    @inline(__always) public func matches(recordID: UInt32, bytes: UnsafeRawBufferPointer) -> Bool {
        for r in roots where r.id == recordID {
            return bytes.count >= Int(r.minimum) && evaluate(Int(r.root), bytes)
        }
        return false
    }

    func evaluate(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        switch steps[index] {
        case .constant(let v):
            return v
        case .all(let first, let count):
            for i in Int(first)..<Int(first + count) where !evaluate(Int(children[i]), bytes) { return false }
            return true
        case .any(let first, let count):
            for i in Int(first)..<Int(first + count) where evaluate(Int(children[i]), bytes) { return true }
            return false
        case .not(let inner):
            return !evaluate(Int(inner), bytes)
        case .integer(let offset, let width, let signed, let op, let value):
            let v = Self.load(bytes, Int(offset), width, signed)
            switch op {
            case .equal: return v == value
            case .notEqual: return v != value
            case .less: return v < value
            case .lessOrEqual: return v <= value
            case .greater: return v > value
            case .greaterOrEqual: return v >= value
            default: return false
            }
        case .integerIn(let offset, let width, let signed, let first, let count):
            let v = Self.load(bytes, Int(offset), width, signed)
            for i in Int(first)..<Int(first + count) where numbers[i] == v { return true }
            return false
        case .bits(let offset, let width, let mask):
            return UInt64(truncatingIfNeeded: Self.load(bytes, Int(offset), width, false)) & mask == mask
        case .accessMode(let offset, let width, let mode):
            return UInt64(truncatingIfNeeded: Self.load(bytes, Int(offset), width, false)) & 3 == mode
        case .text(let offset, let size, let argv, let test, let literal, let negate):
            let field = Self.text(bytes, Int(offset), Int(size), argv)
            return TextMatch.test(test, field, argv: argv, literal: self.literal(Int(literal))) != negate
        case .textIn(let offset, let size, let argv, let first, let count):
            let field = Self.text(bytes, Int(offset), Int(size), argv)
            for i in Int(first)..<Int(first + count) where TextMatch.test(.equal, field, argv: argv, literal: literal(i)) { return true }
            return false
        case .bytesIn(let offset, let size, let first, let count, let negate):
            let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + size)])
            for i in Int(first)..<Int(first + count) {
                let l = literal(i)
                if l.count == raw.count && memcmp(l.baseAddress!, raw.baseAddress!, raw.count) == 0 { return !negate }
            }
            return negate
        case .container(let attribute, let cgroup, let test, let literal, let negate):
            guard var value = containerValue(attribute, bytes, Int(cgroup)) else { return false }
            return value.withUTF8 { TextMatch.test(test, UnsafeRawBufferPointer($0), argv: false, literal: self.literal(Int(literal))) } != negate
        case .containerIn(let attribute, let cgroup, let first, let count):
            guard var value = containerValue(attribute, bytes, Int(cgroup)) else { return false }
            return value.withUTF8 { text in
                (Int(first)..<Int(first + count)).contains { TextMatch.test(.equal, UnsafeRawBufferPointer(text), argv: false, literal: literal($0)) }
            }
        case .containerExists(let attribute, let cgroup):
            return containerValue(attribute, bytes, Int(cgroup)) != nil
        }
    }

    @inline(__always) func literal(_ i: Int) -> UnsafeRawBufferPointer {
        let r = literals[i]
        return UnsafeRawBufferPointer(start: literalBytes.baseAddress! + Int(r.start), count: Int(r.count))
    }

    /// An attribute of the record's container: container.id is "host" for a task outside any
    /// container (as in Falco); the others are absent there, and absent when unknown.
    func containerValue(_ attribute: ContainerAttribute, _ bytes: UnsafeRawBufferPointer, _ cgroupOffset: Int) -> String? {
        let cgroup = bytes.loadUnaligned(fromByteOffset: cgroupOffset, as: UInt64.self)
        guard let summary = containers?.container(cgroupID: cgroup) else { return attribute == .id ? "host" : nil }
        switch attribute {
        case .id: return summary.id
        case .runtime: return summary.runtime
        case .name: return summary.name
        case .image: return summary.image
        case .pod: return summary.podName
        case .namespace: return summary.podNamespace
        }
    }

    @inline(__always) static func load(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ width: UInt8, _ signed: Bool) -> Int128 {
        switch (width, signed) {
        case (1, false): return Int128(bytes.load(fromByteOffset: offset, as: UInt8.self))
        case (1, true): return Int128(bytes.load(fromByteOffset: offset, as: Int8.self))
        case (2, false): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        case (2, true): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self))
        case (4, false): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        case (4, true): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self))
        case (_, false): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        case (_, true): return Int128(bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self))
        }
    }

    /// The bytes of a text field as the record holds them: a plain string up to its first NUL,
    /// an argv up to its last non-NUL byte. Trailing strings may be cut short by the record's end.
    @inline(__always) static func text(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ size: Int, _ argv: Bool) -> UnsafeRawBufferPointer {
        let available = max(0, min(size, bytes.count - offset))
        guard available > 0, let base = bytes.baseAddress?.advanced(by: offset) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        var length = available
        if argv {
            while length > 0 && base.load(fromByteOffset: length - 1, as: UInt8.self) == 0 { length -= 1 }
        } else if let nul = memchr(base, 0, available) {
            length = base.distance(to: UnsafeRawPointer(nul))
        }
        return UnsafeRawBufferPointer(start: base, count: length)
    }
}
