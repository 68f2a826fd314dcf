import EunomiaSchema
import Foundation

/// Runs the build tools a plugin author has (clang, cc, bpftool, pkg-config): argv, never a
/// shell, so no schema string is ever parsed as shell text.
package struct ToolRunner {
    package struct Result {
        package var status: Int32
        package var stdout: Data
        package var stderr: Data
        package var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Called with each command line before it runs, as make prints them.
    package var echo: ((String) -> Void)?
    package var environment: [String: String] = ProcessInfo.processInfo.environment

    package init(echo: ((String) -> Void)? = nil) { self.echo = echo }

    /// The absolute path of `tool` (a path, or a name looked up in PATH).
    package func locate(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    @discardableResult
    package func run(_ argv: [String], stdout toFile: URL? = nil, quiet: Bool = false) throws -> Result {
        guard let tool = argv.first, let path = locate(tool) else {
            throw EunomiaError("\(argv.first ?? "?") is not installed (not found in PATH)")
        }
        if !quiet { echo?(argv.map(Self.shellQuoted).joined(separator: " ") + (toFile.map { " > \($0.path)" } ?? "")) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(argv.dropFirst())
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Both pipes drained at once: a tool that fills one while the other is read would block.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        if let toFile, process.terminationStatus == 0 { try outData.write(to: toFile) }
        return Result(status: process.terminationStatus, stdout: outData, stderr: errData)
    }

    /// Runs and fails with the tool's own diagnostics when it fails.
    @discardableResult
    package func check(_ argv: [String], what: String, stdout toFile: URL? = nil) throws -> Result {
        let r = try run(argv, stdout: toFile)
        guard r.status == 0 else {
            let diagnostics = r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            if !diagnostics.isEmpty { FileHandle.standardError.write(Data((diagnostics + "\n").utf8)) }
            throw EunomiaError("\(what) failed (\(argv[0]) exited with status \(r.status))")
        }
        return r
    }

    static func shellQuoted(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
