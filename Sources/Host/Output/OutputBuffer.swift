import EunomiaRecords
import EunomiaSchema
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A reusable byte buffer that output is formatted into directly, flushed in large writes.
public final class OutputBuffer {
    public typealias Writer = (UnsafeRawBufferPointer) -> Bool

    private(set) var storage: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    public private(set) var count = 0
    /// UTF-8 continuation bytes TableText has written: bytes that take no column of their own.
    /// Table columns subtract the ones written into a cell from its width (see align).
    var wideBytes = 0
    /// Set once a write fails (closed pipe): the consumer is gone.
    public private(set) var failed = false
    private let writer: Writer
    private let flushThreshold: Int

    public init(capacity: Int = 1 << 16, writer: @escaping Writer) {
        self.capacity = capacity
        flushThreshold = capacity / 2
        storage = .allocate(capacity: capacity)
        self.writer = writer
    }

    /// Writes to a file descriptor, retrying short writes and EINTR.
    public convenience init(fd: Int32) {
        self.init { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    deinit { storage.deallocate() }

    public func flush() {
        guard count > 0 else { return }
        if !failed && !writer(UnsafeRawBufferPointer(start: storage, count: count)) { failed = true }
        count = 0
    }

    /// Called at record boundaries: flushes once half the buffer is used.
    @inline(__always) func recordDone() {
        if count >= flushThreshold { flush() }
    }

    @inline(__always) func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity = newCapacity
    }

    @inline(__always) func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        reserve(bytes.count)
        (storage + count).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Inserts one byte at `index`, moving what follows (a CSV cell found to need quotes).
    func insert(_ byte: UInt8, at index: Int) {
        reserve(1)
        (storage + index + 1).update(from: storage + index, count: count - index)
        storage[index] = byte
        count += 1
    }

    func appendSpaces(_ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (storage + count).initialize(repeating: 0x20, count: n)
        count += n
    }

    /// "00" to "99", back to back: two digits per division.
    private static let digitPairs: StaticString = """
        0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
        5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899
        """

    func appendDecimal(_ value: UInt64) {
        reserve(20)
        // Digits from the right, two at a time, into their place: count them first.
        var len = 1
        var bound: UInt64 = 10
        while value >= bound && len < 20 {
            len += 1
            if len == 20 { break }
            bound &*= 10
        }
        let pairs = Self.digitPairs.utf8Start
        var v = value
        var at = count + len
        while v >= 100 {
            let pair = Int(v % 100) &* 2
            v /= 100
            at -= 2
            storage[at] = pairs[pair]
            storage[at + 1] = pairs[pair + 1]
        }
        if v >= 10 {
            let pair = Int(v) &* 2
            storage[at - 2] = pairs[pair]
            storage[at - 1] = pairs[pair + 1]
        } else {
            storage[at - 1] = UInt8(truncatingIfNeeded: v) &+ 0x30
        }
        count += len
    }

    func appendDecimal(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(UInt64(bitPattern: 0 &- value))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    /// Digits of value in base 8 or 16, at least minDigits of them.
    func appendRadix(_ value: UInt64, radix: UInt64, minDigits: Int = 1) {
        let digits: StaticString = "0123456789abcdef"
        var v = value
        var len = 0
        repeat { len += 1; v /= radix } while v != 0
        len = max(len, minDigits)
        reserve(len)
        v = value
        for i in stride(from: len - 1, through: 0, by: -1) {
            storage[count + i] = digits.utf8Start[Int(v % radix)]
            v /= radix
        }
        count += len
    }

    /// Zero-padded decimal of exactly `digits` digits.
    func appendFixed(_ value: UInt64, digits: Int) {
        reserve(digits)
        var v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            storage[count + i] = UInt8(truncatingIfNeeded: v % 10) + 0x30
            v /= 10
        }
        count += digits
    }

    /// Right-aligns what was written since `start` in a field of `width` columns; `wide` of its
    /// bytes take no column (UTF-8 continuation bytes).
    func alignRight(from start: Int, width: Int, wide: Int = 0) {
        let len = count - start
        let pad = width - (len - wide)
        guard pad > 0 else { return }
        reserve(pad)
        (storage + start + pad).update(from: storage + start, count: len)
        (storage + start).initialize(repeating: 0x20, count: pad)
        count += pad
    }

    /// Pads what was written since `start` with spaces up to `width` columns; `wide` of its
    /// bytes take no column (UTF-8 continuation bytes).
    func padLeftAligned(from start: Int, width: Int, wide: Int = 0) {
        appendSpaces(width - (count - start - wide))
    }

    /// Forgets the contents (for scratch buffers that never flush).
    func reset() { count = 0 }

    /// The bytes written so far, valid until the next write.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    /// The bytes written so far (for tests).
    public var contents: [UInt8] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}
