import Foundation
import XCTest

/// A minimal blocking HTTP/1.1 client over a Unix socket or loopback TCP, written on the raw
/// socket API so the tests see exactly what the server sends (status, headers, chunked body).
struct HTTPTarget {
    enum Address { case unix(String), tcp(UInt16) }
    let address: Address
    var token: String?

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var error: String { json?["error"] as? String ?? "<no error field: \(text.prefix(300))>" }
    }

    func connect() throws -> Int32 {
        switch address {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
                raw[bytes.count] = 0
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw TestSupport.TestFailure("connect \(path): \(String(cString: strerror(e)))")
            }
            setTimeout(fd)
            return fd
        case .tcp(let port):
            let fd = try Loopback.connect(.v4, port: port)
            setTimeout(fd)
            return fd
        }
    }

    private func setTimeout(_ fd: Int32) {
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func head(_ method: String, _ path: String, headers: [String: String], bodyCount: Int?) -> Data {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: localhost", "Connection: close"]
        if let token { lines.append("Authorization: Bearer \(token)") }
        for (k, v) in headers { lines.append("\(k): \(v)") }
        if let bodyCount { lines.append("Content-Length: \(bodyCount)") }
        return Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// One request, the whole answer.
    func request(_ method: String, _ path: String, body: Data? = nil, json: Any? = nil, headers: [String: String] = [:]) throws -> Reply {
        var payload = body
        var hdrs = headers
        if let json {
            payload = try JSONSerialization.data(withJSONObject: json)
            hdrs["Content-Type"] = "application/json"
        }
        let fd = try connect()
        defer { close(fd) }
        var out = head(method, path, headers: hdrs, bodyCount: payload?.count ?? (method == "POST" ? 0 : nil))
        if let payload { out.append(payload) }
        try writeAll(fd, out)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return try HTTPTarget.parse(data)
    }

    func writeAll(_ fd: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw TestSupport.TestFailure("write: \(String(cString: strerror(errno)))") }
                off += n
            }
        }
    }

    static func parse(_ data: Data) throws -> Reply {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else {
            throw TestSupport.TestFailure("no HTTP head in \(data.count) bytes: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        let headText = String(decoding: data[..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestSupport.TestFailure("bad status line \(headText)") }
        var headers: [String: String] = [:]
        for l in lines {
            if let c = l.firstIndex(of: ":") {
                headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Data(data[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return Reply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data()
        var rest = data[...]
        while let crlf = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<crlf.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = crlf.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size else { out.append(rest[start...]); break }
            let stop = rest.index(start, offsetBy: size)
            out.append(rest[start..<stop])
            rest = rest[stop...].dropFirst(2)
        }
        return out
    }
}

/// A streaming GET (events) read on a thread of its own while the test acts.
final class StreamReader: @unchecked Sendable {
    private let lock = NSLock()
    private var raw = Data()
    private var finished = false
    let fd: Int32

    init(_ target: HTTPTarget, _ path: String, headers: [String: String] = [:]) throws {
        fd = try target.connect()
        try target.writeAll(fd, target.head("GET", path, headers: headers, bodyCount: nil))
        let fd = self.fd
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { continue }
                if n <= 0 { break }
                lock.lock(); raw.append(contentsOf: buffer[0..<n]); lock.unlock()
            }
            lock.lock(); finished = true; lock.unlock()
        }
    }

    var ended: Bool { lock.lock(); defer { lock.unlock() }; return finished }

    var reply: HTTPTarget.Reply? {
        lock.lock()
        let d = raw
        lock.unlock()
        return try? HTTPTarget.parse(d)
    }

    var body: String { reply.map { $0.text } ?? "" }

    func wait(upTo seconds: Double, _ condition: (String) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition(body) { return true }
            usleep(20_000)
        }
        return condition(body)
    }

    /// The client goes away.
    func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}

/// `eunomia server` started by a test on a private socket and store (and a TCP port of the
/// kernel's choosing when the config listens).
final class DaemonProcess {
    let dir: URL
    let store: URL
    let socket: String
    let configPath: String
    let process: LiveProcess
    private(set) var port: UInt16?

    init(dir: URL, store: URL, config: String, file: StaticString = #filePath, line: UInt = #line) throws {
        self.dir = dir
        self.store = store
        socket = dir.appendingPathComponent("run/eunomia.sock").path
        configPath = dir.appendingPathComponent("eunomia.toml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process = try LiveProcess(TestSupport.eunomiaBinary,
                                  ["server", "--config", configPath, "--socket", socket, "--store", store.path, "--log-level", "info"],
                                  environment: [:])
        let wantTCP = config.contains("listen")
        let up = process.wait(upTo: 60) {
            process.stderr.contains("listening on unix:") && (!wantTCP || process.stderr.contains("listening on http://"))
        }
        XCTAssertTrue(up, "server never came up: \(process.stderr)", file: file, line: line)
        if !up {
            _ = process.interruptAndWait()
            throw TestSupport.TestFailure("server never came up")
        }
        if wantTCP, let r = process.stderr.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
            port = UInt16(process.stderr[r].split(separator: ":").last ?? "")
        }
    }

    var pid: Int32 { process.process.processIdentifier }
    var unix: HTTPTarget { HTTPTarget(address: .unix(socket)) }
    var token: String { (try? String(contentsOf: store.appendingPathComponent("server.token"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
    func tcp(token: String?) -> HTTPTarget { HTTPTarget(address: .tcp(port ?? 0), token: token) }

    func rewrite(config: String) throws { try config.write(toFile: configPath, atomically: true, encoding: .utf8) }

    /// SIGHUP, then waits for the reload's summary line (or its refusal) in the log.
    func hangUp(expect marker: String, timeout: Double = 60) -> Bool {
        let before = process.stderr.components(separatedBy: marker).count
        kill(pid, SIGHUP)
        return process.wait(upTo: timeout) { process.stderr.components(separatedBy: marker).count > before }
    }

    /// SIGTERM and the exit status.
    func terminate() -> Int32 {
        if process.process.isRunning { kill(pid, SIGTERM) }
        process.process.waitUntilExit()
        return process.interruptAndWait()
    }

    deinit {
        if process.process.isRunning {
            kill(pid, SIGKILL)
            process.process.waitUntilExit()
        }
    }
}

/// BPF objects in the kernel, by bpftool and by a process's descriptors.
enum KernelBPF {
    /// Ids of the BPF programs and links a process holds descriptors of (/proc/PID/fdinfo).
    static func held(by pid: Int32) -> (programs: Set<Int>, links: Set<Int>) {
        var programs = Set<Int>(), links = Set<Int>()
        let dir = "/proc/\(pid)/fdinfo"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let text = try? String(contentsOfFile: "\(dir)/\(fd)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let v = Int(parts[1]) else { continue }
                if parts[0] == "prog_id" { programs.insert(v) }
                if parts[0] == "link_id" { links.insert(v) }
            }
        }
        return (programs, links)
    }

    /// What `bpftool -j prog list` / `link list` show: id -> name (programs), link id -> prog id.
    static func bpftool() throws -> (programs: [Int: String], links: [Int: Int]) {
        let tool = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tool else { throw TestSupport.TestFailure("bpftool is not installed (make install-deps installs it)") }
        var programs: [Int: String] = [:], links: [Int: Int] = [:]
        let p = try TestSupport.run(tool, ["-j", "prog", "list"])
        guard p.status == 0 else { throw TestSupport.TestFailure("bpftool prog list: \(p.stderr)") }
        for item in (try JSONSerialization.jsonObject(with: Data(p.stdout.utf8)) as? [[String: Any]]) ?? [] {
            if let id = item["id"] as? Int { programs[id] = item["name"] as? String ?? "" }
        }
        let l = try TestSupport.run(tool, ["-j", "link", "list"])
        guard l.status == 0 else { throw TestSupport.TestFailure("bpftool link list: \(l.stderr)") }
        for item in (try JSONSerialization.jsonObject(with: Data(l.stdout.utf8)) as? [[String: Any]]) ?? [] {
            if let id = item["id"] as? Int { links[id] = item["prog_id"] as? Int ?? -1 }
        }
        return (programs, links)
    }
}
