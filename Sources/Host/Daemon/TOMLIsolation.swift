import EunomiaHost
import Foundation
import TOMLKit

/// A parsed TOML document as plain values: what the config checks walk.
public indirect enum TOMLNode: Codable, Equatable, Sendable {
    case table([String: TOMLNode])
    case array([TOMLNode])
    case string(String)
    case int(Int64)
    case bool(Bool)
    /// A float, date, time or date-time: no config key takes one, so only its kind is kept.
    case other(kind: String)

    var keys: [String] {
        if case .table(let t) = self { return t.keys.sorted() }
        return []
    }
    subscript(key: String) -> TOMLNode? {
        if case .table(let t) = self { return t[key] }
        return nil
    }
    var table: TOMLNode? {
        if case .table = self { return self }
        return nil
    }
    var array: [TOMLNode]? {
        if case .array(let a) = self { return a }
        return nil
    }
    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    /// Integers that fit an Int (all of them on 64-bit Linux).
    var int: Int? {
        if case .int(let i) = self { return Int(exactly: i) }
        return nil
    }
    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// "a string", "an integer", ...: for messages.
    var article: String {
        switch self {
        case .table: return "a table"
        case .array: return "a list"
        case .string: return "a string"
        case .int: return "an integer"
        case .bool: return "a boolean"
        case .other(let kind): return kind
        }
    }

    init(_ value: TOMLValueConvertible) {
        switch value.type {
        case .table:
            var t: [String: TOMLNode] = [:]
            if let table = value.table {
                for key in table.keys { if let v = table[key] { t[key] = TOMLNode(v) } }
            }
            self = .table(t)
        case .array:
            var a: [TOMLNode] = []
            if let array = value.array { for i in 0..<array.count { a.append(TOMLNode(array[i])) } }
            self = .array(a)
        case .string: self = .string(value.string ?? "")
        case .int: self = value.int.map { .int(Int64($0)) } ?? .other(kind: "an integer")
        case .bool: self = .bool(value.bool ?? false)
        case .double: self = .other(kind: "a float")
        case .date: self = .other(kind: "a date")
        case .time: self = .other(kind: "a time")
        case .dateTime: self = .other(kind: "a date-time")
        }
    }
}

/// TOMLKit's parser (toml++) asserts, and so aborts the whole process, on some malformed
/// documents instead of returning an error (found by DaemonConfigTests.testMutatedConfigsNeverTrap:
/// a value starting with ',' or '}', a header name starting with '@', ...). A config is hostile
/// input, so it is parsed in a child process (this executable run as `eunomia __parse-toml`): a
/// crash there is one line of error here, and the server, its trackers and the store are untouched.
public enum TOMLIsolation {
    public static let childArgument = "__parse-toml"
    /// The eunomia executable. Tests, which run inside the XCTest bundle, point it at bin/eunomia.
    nonisolated(unsafe) public static var helper = "/proc/self/exe"
    static let timeoutSeconds = 10.0

    struct Reply: Codable {
        var node: TOMLNode?
        var line: Int?
        var message: String?
    }

    /// Parses text in the child; a syntax error or a crash comes back as (line, message).
    static func parse(_ text: String) throws -> Result<TOMLNode, ParseFailure> {
        // The text goes to the child as its stdin from a private file (0600, unlinked at once),
        // not through a pipe: no writer to block, and no SIGPIPE when the child dies early.
        var template = Array((NSTemporaryDirectory() + "/eunomia-config-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw EunomiaError("cannot create a temporary file: \(String(cString: strerror(errno)))", kind: .failed) }
        unlink(String(cString: template))
        let stdin = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw EunomiaError("cannot write a temporary file: \(String(cString: strerror(errno)))", kind: .failed) }
            offset += n
        }
        lseek(fd, 0, SEEK_SET)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: helper)
        process.arguments = [childArgument]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = env
        let output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw EunomiaError("cannot run the config parser \(helper): \(error.localizedDescription)", kind: .failed)
        }
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
        let reply = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        try? output.fileHandleForReading.close()
        try? stdin.close()
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              let decoded = try? JSONDecoder().decode(Reply.self, from: reply) else {
            return .failure(ParseFailure(line: nil, message: "not valid TOML (the parser gave up on it)"))
        }
        if let node = decoded.node { return .success(node) }
        return .failure(ParseFailure(line: decoded.line, message: decoded.message ?? "not valid TOML"))
    }

    struct ParseFailure: Error {
        var line: Int?
        var message: String
    }

    /// `eunomia __parse-toml`: TOML on stdin (at most DaemonConfig.maxFileSize), the JSON reply on stdout.
    public static func childMain() -> Never {
        let data = FileHandle.standardInput.readData(ofLength: DaemonConfig.maxFileSize + 1)
        var reply = Reply()
        if data.count > DaemonConfig.maxFileSize || data.contains(0) {
            reply.message = "too large or contains a NUL byte"
        } else {
            do {
                let table = try TOMLTable(string: String(decoding: data, as: UTF8.self))
                reply.node = TOMLNode(table)
            } catch let e as TOMLParseError {
                reply.line = e.source.begin.line
                reply.message = e.description
            } catch {
                reply.message = "\(error)"
            }
        }
        let out = (try? JSONEncoder().encode(reply)) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(out)
        exit(0)
    }
}
