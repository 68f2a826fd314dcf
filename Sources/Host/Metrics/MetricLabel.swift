import EunomiaRecords
import EunomiaSchema

/// One label of eunomia_plugin_events_total, read from a record. The hot path only copies the
/// label's raw bytes into a key; the value string is made once, when a new label set is
/// admitted. Schema fields marked `metric_label` are one kind; an enriched label (the container
/// a cgroup id maps to) is another: it appends the cgroup id to the key and names the container
/// in `value(of:)`, without the counter knowing the difference.
public protocol MetricLabel: AnyObject {
    /// A valid Prometheus label name, not one of FieldSpec.reservedLabelNames.
    var name: String { get }
    /// Appends the bytes that identify this label's value in `record` (self-delimiting: a
    /// length first where it varies), with no allocation beyond `key`'s capacity.
    func appendKey(of record: RecordView, to key: inout [UInt8])
    /// The label's value from the bytes appendKey wrote (`key` holds exactly those).
    func value(of key: ArraySlice<UInt8>) -> String
    /// How many bytes appendKey wrote at the start of `key`.
    func keyLength(in key: ArraySlice<UInt8>) -> Int
    /// The label as it applies to events of `record` (an enriched label reads its field at
    /// that record's offset), nil when the record does not carry it. Schema fields: themselves.
    func bound(to record: RecordLayout) -> MetricLabel?
    /// nil: a value, once made, never changes. Otherwise a number that moves whenever a value
    /// may have (a container's name learnt after its first events): the counter then asks
    /// `refreshed` for each admitted set's value at the next snapshot.
    var generation: UInt64? { get }
    /// The value now for the bytes appendKey wrote, given the value made before.
    func refreshed(_ value: String, key: ArraySlice<UInt8>) -> String
}

extension MetricLabel {
    public func bound(to record: RecordLayout) -> MetricLabel? { self }
    public var generation: UInt64? { nil }
    public func refreshed(_ value: String, key: ArraySlice<UInt8>) -> String { value }
}

/// A schema field marked `"metric_label": true`: its bytes as the record carries them (a string
/// up to its first NUL), its value as text (a number in decimal, a string as UTF-8 with
/// invalid bytes replaced; swift-prometheus escapes it in the exposition).
final class FieldLabel: MetricLabel {
    let name: String
    private let type: FieldType
    private let offset: Int
    private let size: Int
    /// The schema's names for values ("0": "statfs"): a label reads better by name.
    private let names: [Int64: String]

    init(_ field: FieldSpec) {
        name = field.name
        type = field.type
        offset = field.offset
        size = field.size
        var names: [Int64: String] = [:]
        for (k, v) in field.values ?? [:] { if let n = Int64(k) { names[n] = v } }
        self.names = names
    }

    func appendKey(of record: RecordView, to key: inout [UInt8]) {
        let bytes = record.bytes
        // A short record (a string cut at its end) gives what it has; a missing field is empty.
        let available = max(0, min(size, bytes.count - offset))
        var n = available
        if type == .string, available > 0 {
            n = 0
            while n < available && bytes[offset + n] != 0 { n += 1 }
        }
        // Sizes are at most 1 MiB (the schema's limit): three bytes of length.
        key.append(UInt8(truncatingIfNeeded: n))
        key.append(UInt8(truncatingIfNeeded: n >> 8))
        key.append(UInt8(truncatingIfNeeded: n >> 16))
        var i = 0
        while i < n {
            key.append(bytes[offset + i])
            i += 1
        }
    }

    func keyLength(in key: ArraySlice<UInt8>) -> Int {
        guard key.count >= 3 else { return key.count }
        let s = key.startIndex
        return 3 + (Int(key[s]) | Int(key[s + 1]) << 8 | Int(key[s + 2]) << 16)
    }

    func value(of key: ArraySlice<UInt8>) -> String {
        let body = key.dropFirst(3)
        switch type {
        case .string:
            return String(decoding: body, as: UTF8.self)
        case .bool:
            return body.contains { $0 != 0 } ? "true" : "false"
        default:
            var raw: UInt64 = 0
            for (i, b) in body.prefix(8).enumerated() { raw |= UInt64(b) << (8 * UInt64(i)) }
            let n: Int64
            switch type {
            case .i8: n = Int64(Int8(truncatingIfNeeded: raw))
            case .i16: n = Int64(Int16(truncatingIfNeeded: raw))
            case .i32: n = Int64(Int32(truncatingIfNeeded: raw))
            case .i64: n = Int64(bitPattern: raw)
            default:
                // Unsigned: a u64 past Int64.max has no name, only digits.
                guard raw <= UInt64(Int64.max) else { return String(raw) }
                n = Int64(raw)
            }
            return names[n] ?? String(n)
        }
    }
}

/// The start of every label-set key: which plan (build) and record the labels belong to, so
/// the same label bytes under another record make another set.
@inline(__always) func appendRecordKey(plan: UInt8, recordID: UInt32, to key: inout [UInt8]) {
    key.removeAll(keepingCapacity: true)
    key.append(plan)
    key.append(UInt8(truncatingIfNeeded: recordID))
    key.append(UInt8(truncatingIfNeeded: recordID >> 8))
    key.append(UInt8(truncatingIfNeeded: recordID >> 16))
    key.append(UInt8(truncatingIfNeeded: recordID >> 24))
}
