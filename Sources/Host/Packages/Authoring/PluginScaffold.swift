import EunomiaSchema
import Foundation

/// `eunomia plugin new NAME`: a plugin folder that builds, lints and runs as it is, from one of
/// four templates; the author then edits the record and the program.
package enum PluginScaffold {
    package enum Template: String, CaseIterable {
        /// One tracepoint, one record per hit (sched_process_exec).
        case tracepoint
        /// A syscall's entry and exit joined per thread, with its latency (openat).
        case entryExit = "entry-exit"
        /// Counts in a BPF map, reported every interval seconds (syscalls per process).
        case periodic
        /// A user-space function's entry and return (libc getaddrinfo), with its latency.
        case uprobe
    }

    /// Writes the folder `directory/NAME` and returns the files written, relative to it.
    package static func create(name: String, template: Template, in parent: URL) throws -> (URL, [String]) {
        // A plugin name that is also a C identifier once '-' is '_': it names C symbols too.
        guard Validate.isPluginName(name), Validate.isCIdentifier(name.replacingOccurrences(of: "-", with: "_")) else {
            throw EunomiaError("\(name.quotedForError) cannot name a new plugin: lowercase letters, digits, '-' and '_', starting with a letter (it names C symbols too)")
        }
        let dir = parent.appendingPathComponent(name)
        guard !FileManager.default.fileExists(atPath: dir.path) else {
            throw EunomiaError("\(dir.path) already exists; choose another name or remove it")
        }
        let cname = name.replacingOccurrences(of: "-", with: "_")
        let files = Templates.files(for: template)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var written: [String] = []
        for (file, text) in files {
            let fileName = file.replacingOccurrences(of: "NAME", with: name)
            let body = text.replacingOccurrences(of: "@NAME@", with: name).replacingOccurrences(of: "@CNAME@", with: cname)
                .replacingOccurrences(of: "@GUARD@", with: cname.uppercased())
            try Data(body.utf8).write(to: dir.appendingPathComponent(fileName))
            written.append(fileName)
        }
        return (dir, written)
    }
}
