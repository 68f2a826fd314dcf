import CHostSupport
import EunomiaSchema
import Foundation
import Logging

/// Something the event loop serves: a running plugin instance.
public protocol LoopSource: AnyObject {
    /// The descriptor to wait on for POLLIN (ABI 1.2), or nil to be served on the timer.
    var waitFD: Int32? { get }
    /// Deliver what is pending. Runs on the loop's thread, never concurrently with itself.
    /// Returns false when the source failed and must not be served again.
    func service() -> Bool
}

/// One thread that waits on every running instance at once (epoll over their wait fds) and
/// serves each the moment it has records, instead of a poll loop per tracker. ABI 1.1 plugins,
/// which have no wait fd, are polled every `timerPollMs`. `eunomia run` runs the same loop on
/// its own thread; the server runs it on a thread of its own.
///
/// add and remove may be called from any thread; remove returns once the loop will not call
/// the source again, so the caller may then stop and destroy it.
public final class EventLoop: @unchecked Sendable {
    public static let timerPollMs: Int64 = 100

    private enum Command {
        case add(UInt64, LoopSource)
        case remove(UInt64, DispatchSemaphore?)
    }

    private struct Served {
        let source: LoopSource
        let fd: Int32?
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private let logger: Logger
    private var lock = pthread_mutex_t()
    // Guarded by lock.
    private var commands: [Command] = []
    private var tokens: [ObjectIdentifier: UInt64] = [:]
    private var nextToken: UInt64 = 1
    private var looping = false
    private var stopRequested = false
    private var thread: Thread?
    private var threadDone: DispatchSemaphore?
    // Loop thread only (or under lock while no loop runs).
    private var served: [UInt64: Served] = [:]
    private var timerSources: [UInt64] = []
    /// Times the loop woke (for the idle benchmarks).
    public private(set) var wakeups: UInt64 = 0

    public init(logger: Logger) throws {
        self.logger = logger
        epfd = eh_epoll_create()
        guard epfd >= 0 else { throw EunomiaError("cannot create the event loop: epoll_create1: \(String(cString: strerror(errno)))", kind: .failed) }
        wakeFD = eh_eventfd()
        guard wakeFD >= 0 else {
            close(epfd)
            throw EunomiaError("cannot create the event loop: eventfd: \(String(cString: strerror(errno)))", kind: .failed)
        }
        pthread_mutex_init(&lock, nil)
        _ = eh_epoll_add(epfd, wakeFD, 0)
    }

    deinit {
        shutdown()
        close(wakeFD)
        close(epfd)
        pthread_mutex_destroy(&lock)
    }

    /// Serves `source` from the next turn of the loop on.
    public func add(_ source: LoopSource) {
        pthread_mutex_lock(&lock)
        let token = nextToken
        nextToken += 1
        tokens[ObjectIdentifier(source)] = token
        if looping {
            commands.append(.add(token, source))
            pthread_mutex_unlock(&lock)
            wake()
        } else {
            apply(.add(token, source))
            pthread_mutex_unlock(&lock)
        }
    }

    /// Stops serving `source`; when it returns, the loop is not inside source.service() and
    /// will never call it again. Safe from the loop thread itself (a source removing itself).
    public func remove(_ source: LoopSource) {
        pthread_mutex_lock(&lock)
        guard let token = tokens.removeValue(forKey: ObjectIdentifier(source)) else {
            pthread_mutex_unlock(&lock)
            return
        }
        if looping && Thread.current !== thread && !onLoopThread {
            let done = DispatchSemaphore(value: 0)
            commands.append(.remove(token, done))
            pthread_mutex_unlock(&lock)
            wake()
            done.wait()
        } else {
            apply(.remove(token, nil))
            pthread_mutex_unlock(&lock)
        }
    }

    /// Runs the loop on its own thread until shutdown.
    public func startThread() {
        pthread_mutex_lock(&lock)
        guard thread == nil else {
            pthread_mutex_unlock(&lock)
            return
        }
        let done = DispatchSemaphore(value: 0)
        threadDone = done
        stopRequested = false
        let t = Thread { [unowned self] in
            self.run(until: nil)
            done.signal()
        }
        t.name = "eunomia-loop"
        thread = t
        pthread_mutex_unlock(&lock)
        t.start()
    }

    /// Stops the loop (run returns; the thread ends) and waits for it.
    public func shutdown() {
        stop()
        pthread_mutex_lock(&lock)
        let done = threadDone
        threadDone = nil
        pthread_mutex_unlock(&lock)
        done?.wait()
        pthread_mutex_lock(&lock)
        thread = nil
        pthread_mutex_unlock(&lock)
    }

    /// Makes run return at its next turn. Callable from any thread and from a signal source.
    public func stop() {
        pthread_mutex_lock(&lock)
        stopRequested = true
        pthread_mutex_unlock(&lock)
        wake()
    }

    private var loopThreadID: pthread_t?
    private var onLoopThread: Bool {
        guard let id = loopThreadID else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    /// Serves sources on the calling thread until stop() or, when given, the deadline
    /// (CLOCK_MONOTONIC ns). Returns true when it ended by the deadline.
    @discardableResult
    public func run(until deadline: Int64?) -> Bool {
        pthread_mutex_lock(&lock)
        looping = true
        loopThreadID = pthread_self()
        pthread_mutex_unlock(&lock)
        defer {
            pthread_mutex_lock(&lock)
            applyCommands()
            looping = false
            loopThreadID = nil
            stopRequested = false
            pthread_mutex_unlock(&lock)
        }
        var events = [UInt64](repeating: 0, count: 64)
        var nextTimer = eh_monotonic_ns() + EventLoop.timerPollMs * 1_000_000
        while true {
            pthread_mutex_lock(&lock)
            applyCommands()
            let stopping = stopRequested
            pthread_mutex_unlock(&lock)
            if stopping { return false }
            let now = eh_monotonic_ns()
            if let deadline, now >= deadline { return true }
            var wait = timerSources.isEmpty ? Int64.max : max(0, nextTimer - now)
            if let deadline { wait = min(wait, deadline - now) }
            let timeoutMs: Int32 = wait == Int64.max ? -1 : Int32(min(wait / 1_000_000 + (wait % 1_000_000 > 0 ? 1 : 0), 60_000))
            let n = events.withUnsafeMutableBufferPointer { eh_epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeoutMs) }
            wakeups &+= 1
            if n < 0 {
                if -n == EINTR { continue }
                logger.error("event loop: epoll_wait: \(String(cString: strerror(-n)))")
                return false
            }
            for i in 0..<Int(n) {
                let token = events[i]
                if token == 0 {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                serve(token)
            }
            if !timerSources.isEmpty && eh_monotonic_ns() >= nextTimer {
                for token in timerSources { serve(token) }
                nextTimer = eh_monotonic_ns() + EventLoop.timerPollMs * 1_000_000
            } else if timerSources.isEmpty {
                nextTimer = eh_monotonic_ns() + EventLoop.timerPollMs * 1_000_000
            }
        }
    }

    private func serve(_ token: UInt64) {
        // A source removed by a command applied this turn is gone from `served`.
        guard let s = served[token] else { return }
        if !s.source.service() {
            pthread_mutex_lock(&lock)
            tokens.removeValue(forKey: ObjectIdentifier(s.source))
            apply(.remove(token, nil))
            pthread_mutex_unlock(&lock)
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Under lock.
    private func applyCommands() {
        let pending = commands
        commands.removeAll()
        for c in pending { apply(c) }
    }

    /// Under lock, on the loop thread or while no loop runs.
    private func apply(_ command: Command) {
        switch command {
        case .add(let token, let source):
            let fd = source.waitFD
            served[token] = Served(source: source, fd: fd)
            if let fd {
                let rc = eh_epoll_add(epfd, fd, token)
                if rc != 0 {
                    logger.warning("event loop: cannot wait on fd \(fd) (\(String(cString: strerror(-rc)))); polling it on the timer")
                    served[token] = Served(source: source, fd: nil)
                    timerSources.append(token)
                }
            } else {
                timerSources.append(token)
            }
        case .remove(let token, let done):
            if let s = served.removeValue(forKey: token) {
                if let fd = s.fd { _ = eh_epoll_del(epfd, fd) }
                timerSources.removeAll { $0 == token }
            }
            done?.signal()
        }
    }

    /// Sources served now.
    public var count: Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return tokens.count
    }
}
