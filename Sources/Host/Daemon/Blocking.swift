import Dispatch
import Foundation

/// Runs work that blocks (loading BPF programs, the store's file system work, locks held across
/// those) on a GCD thread, so the few threads of Swift's cooperative pool, which serve every
/// request, are never stuck behind the kernel.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Same, on a given serial queue (one per output file: its writes stay in order).
func onQueue(_ queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        queue.async {
            body()
            continuation.resume()
        }
    }
}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
