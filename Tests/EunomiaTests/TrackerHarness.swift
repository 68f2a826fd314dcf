import Foundation
import XCTest
@testable import EunomiaHost
@testable import EunomiaOutput
@testable import EunomiaPackages
@testable import EunomiaRecords
@testable import EunomiaRuntime
@testable import EunomiaSchema

/// A process whose output is collected while it runs.
final class LiveProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    /// Both pipes reached end of file: everything the process wrote has been read.
    private let drained = DispatchGroup()
    private var lastData = Date()

    init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        // Handlers stop at end of file; they hold the process object strongly until then.
        drained.enter()
        drained.enter()
        outPipe.fileHandleForReading.readabilityHandler = { [self] h in
            let d = h.availableData
            if d.isEmpty { h.readabilityHandler = nil; drained.leave(); return }
            lock.lock(); out.append(d); lastData = Date(); lock.unlock()
        }
        errPipe.fileHandleForReading.readabilityHandler = { [self] h in
            let d = h.availableData
            if d.isEmpty { h.readabilityHandler = nil; drained.leave(); return }
            lock.lock(); err.append(d); lastData = Date(); lock.unlock()
        }
        try process.run()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

    /// Polls until condition holds or the timeout passes; returns whether it held.
    func wait(upTo seconds: Double, until condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return condition()
    }

    /// Interrupts the process and returns its exit status once all its output has been read
    /// (a final report can be a long line still in the pipe when the process exits).
    func interruptAndWait() -> Int32 {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
        // End of file on both pipes, unless another process inherited them (the test's own
        // children do): then the output is complete once it has been quiet for a while.
        // Quiet counts from the exit at the earliest: output read before it says nothing about
        // what the process wrote last (a long final report can still sit unread in the pipe).
        let exited = Date()
        let end = exited.addingTimeInterval(10)
        while drained.wait(timeout: .now() + .milliseconds(50)) == .timedOut && Date() < end {
            lock.lock()
            let quiet = Date().timeIntervalSince(max(lastData, exited)) > 0.5
            lock.unlock()
            if quiet { break }
        }
        return process.terminationStatus
    }
}

/// A bundled tracker installed into a private store and run through the CLI, for real-kernel tests.
final class TrackerHarness {
    let plugin: String
    let dir: URL
    let store: URL

    /// Installs build/packages/PLUGIN-*.pkg into a fresh store; skips (or fails in CI) without BPF,
    /// or without the `tracepoints` the test needs (see TestSupport.requireKernel).
    init(_ plugin: String, tracepoints: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws {
        try TestSupport.requireKernel(tracepoints: tracepoints, file: file, line: line)
        self.plugin = plugin
        dir = try TestSupport.temporaryDirectory(plugin)
        store = dir.appendingPathComponent("store")
        try TestSupport.trustBuildKey(in: store)
        let install = try TestSupport.eunomia(["plugin", "install", try TestSupport.package(plugin).path], store: store)
        XCTAssertEqual(install.status, 0, install.stderr, file: file, line: line)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Starts `eunomia run PLUGIN -o FORMAT ARGS` and returns once the tracker is attached.
    func start(_ arguments: [String] = [], format: String = "json", file: StaticString = #filePath, line: UInt = #line) throws -> LiveProcess {
        let tracer = try LiveProcess(TestSupport.eunomiaBinary,
                                     ["run", plugin, "-o", format, "--duration", "60", "--log-level", "info"] + arguments,
                                     environment: ["EUNOMIA_HOME": store.path])
        let attached = tracer.wait(upTo: 30) { tracer.stderr.contains("attached") }
        XCTAssertTrue(attached, "\(plugin) never attached: \(tracer.stderr)", file: file, line: line)
        if !attached { _ = tracer.interruptAndWait(); throw TestSupport.TestFailure("\(plugin) never attached") }
        return tracer
    }

    /// JSON lines of a finished or running tracer, parsed.
    static func records(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Waits until some JSON record satisfies match, stops the tracer (expecting a clean exit),
    /// and returns every record.
    func collect(_ tracer: LiveProcess, timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line,
                 until match: @escaping ([String: Any]) -> Bool) -> [[String: Any]] {
        let seen = tracer.wait(upTo: timeout) { TrackerHarness.records(tracer.stdout).contains(where: match) }
        let status = tracer.interruptAndWait()
        XCTAssertTrue(seen, "expected event never showed up; output:\n\(tracer.stdout.suffix(2000))\nstderr:\n\(tracer.stderr)", file: file, line: line)
        XCTAssertEqual(status, 0, tracer.stderr, file: file, line: line)
        return TrackerHarness.records(tracer.stdout)
    }
}
