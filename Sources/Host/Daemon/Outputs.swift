import Dispatch
import EunomiaHost
import Foundation
import Logging

/// One configured output of a tracker: a StreamSubscriber on its router (a bounded queue: what a
/// slow consumer cannot take is dropped and counted under `name`), drained by a task that hands each
/// chunk to a serial queue of its own, so a slow disk or terminal never stalls the event loop.
final class OutputPump: @unchecked Sendable {
    let name: String
    private let subscriber: StreamSubscriber
    private var task: Task<Void, Never>?

    /// Opens what the output writes to (a file output's file, now: a bad path fails before anything is attached).
    static func sink(for spec: OutputSpec, trackerID: String, logger: Logger) throws -> OutputSink {
        switch spec {
        case .log: return LogSink(trackerID: trackerID, logger: logger)
        case .file(let path, let maxBytes, let keep): return try RotatingFile(path: path, maxBytes: maxBytes, keep: keep, logger: logger)
        }
    }

    init(name: String, sink: OutputSink, tracker: RunningTracker, queueBytes: Int, containers: ContainerDirectory? = nil) {
        self.name = name
        subscriber = StreamSubscriber(format: .json, limitBytes: queueBytes, containers: containers)
        tracker.router.add(subscriber, name: name)
        let subscriber = self.subscriber
        let queue = DispatchQueue(label: "eunomia.output.\(name)")
        task = Task {
            while let chunk = await subscriber.next() {
                await onQueue(queue) { sink.write(chunk) }
            }
            await onQueue(queue) { sink.close() }
        }
    }

    var dropped: UInt64 { subscriber.dropped }

    /// Returns once every chunk the tracker delivered has been written and the sink closed (the
    /// tracker finishes its subscribers when it stops).
    func finish() async {
        await task?.value
    }

    /// For a tracker that never started: stop reading and close.
    func cancel() {
        subscriber.close()
    }
}

protocol OutputSink: AnyObject, Sendable {
    func write(_ chunk: [UInt8])
    func close()
}

/// The server's log: one line per record, the record's JSON as the message.
final class LogSink: OutputSink, @unchecked Sendable {
    private let logger: Logger

    init(trackerID: String, logger: Logger) {
        var l = logger
        l[metadataKey: "tracker"] = .string(trackerID)
        self.logger = l
    }

    func write(_ chunk: [UInt8]) {
        for line in chunk.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            logger.info("\(String(decoding: line, as: UTF8.self))")
        }
    }

    func close() {}
}

/// JSON lines appended to a file, rotated by size: PATH is renamed to PATH.1, PATH.1 to PATH.2 ...
/// up to PATH.KEEP (the oldest is removed). Only whole chunks (whole lines) are written, so a
/// rotation never splits a record.
final class RotatingFile: OutputSink, @unchecked Sendable {
    let path: String
    let maxBytes: Int
    let keep: Int
    private var fd: Int32 = -1
    private var size = 0
    private var failing = false
    private let logger: Logger

    init(path: String, maxBytes: Int, keep: Int, logger: Logger) throws {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.logger = logger
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            throw EunomiaError("output file \(path): cannot create \(dir): \((error as NSError).localizedDescription)", kind: .failed)
        }
        try reopen()
    }

    private func reopen() throws {
        let f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o640)
        guard f >= 0 else {
            throw EunomiaError("output file \(path): \(String(cString: strerror(errno)))", kind: .failed)
        }
        var st = stat()
        guard fstat(f, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            Foundation.close(f)
            throw EunomiaError("output file \(path): not a regular file", kind: .failed)
        }
        _ = fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK)
        fd = f
        size = Int(st.st_size)
    }

    func write(_ chunk: [UInt8]) {
        guard !chunk.isEmpty else { return }
        if size > 0 && size + chunk.count > maxBytes { rotate() }
        guard fd >= 0 else { return }
        var offset = 0
        let ok = chunk.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        size += offset
        if !ok {
            if !failing { logger.warning("output file \(path): write failed: \(String(cString: strerror(errno))); dropping records until it works again") }
            failing = true
        } else if failing {
            logger.notice("output file \(path): writing again")
            failing = false
        }
    }

    private func rotate() {
        if fd >= 0 { Foundation.close(fd); fd = -1 }
        if keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(keep)")
            var i = keep - 1
            while i >= 1 {
                rename("\(path).\(i)", "\(path).\(i + 1)")
                i -= 1
            }
            rename(path, "\(path).1")
        }
        do {
            try reopen()
        } catch {
            if !failing { logger.warning("\(error)") }
            failing = true
        }
    }

    func close() {
        if fd >= 0 {
            fsync(fd)
            Foundation.close(fd)
            fd = -1
        }
    }
}
