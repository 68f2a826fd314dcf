import ArgumentParser
import EunomiaHost
import Foundation

extension PluginScaffold.Template: ExpressibleByArgument {}

extension Plugin {
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scaffold a tracker plugin folder that builds, lints and runs as it is.",
            discussion: """
                Writes NAME/ with NAME.bpf.c (the BPF program), NAME.h (the record struct, shared by both \
                sides), NAME.c (the user-space side), schema.json and a Makefile that builds against the \
                installed kit. Templates:
                  tracepoint  a record per tracepoint hit (sched_process_exec)
                  entry-exit  a syscall's entry and exit, with its latency (openat)
                  periodic    counts in a map, a top-N table every interval
                  uprobe      a user-space function's calls (libc getaddrinfo)
                Then: eunomia plugin build NAME && eunomia plugin lint NAME.
                """)
        @Argument(help: "The plugin's name: lowercase letters, digits, '-' and '_', starting with a letter.") var name: String
        @Option(help: "What the plugin starts from: \(PluginScaffold.Template.allCases.map(\.rawValue).joined(separator: ", ")).")
        var template: PluginScaffold.Template = .tracepoint
        @Option(name: .shortAndLong, help: "Folder to create NAME/ in (default: the current one).") var directory: String = "."

        func run() throws {
            try reportingErrors {
                let (dir, files) = try PluginScaffold.create(name: name, template: template, in: URL(fileURLWithPath: directory))
                print("created \(dir.path) from the \(template.rawValue) template: \(files.joined(separator: ", "))")
                print("next: eunomia plugin build \(dir.path)")
            }
        }
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a plugin package or build before anyone installs it.",
            discussion: """
                TARGET is a .pkg file, a build folder (schema.json, NAME.so, NAME.bpf.o) or a plugin folder \
                whose build/ holds one. Checks the schema (parameters, defaults against their types), every \
                record layout against the BPF object's BTF, the library's exported entry and its name, version \
                and ABI against the schema and this host, the BPF license, the schema's requirements, and \
                every program's attach point on this kernel (tracepoints in tracefs, tp_btf targets in the \
                kernel's BTF, kprobe support and symbols). Prints one line per check; exits 1 when anything \
                would fail to pack, install or load here. Programs that would not attach are warnings: \
                the helper skips missing tracepoints and plugins choose fallbacks.
                """)
        @Argument(help: "A .pkg file, a build folder or a plugin folder.") var target: String = "."

        func run() throws {
            try reportingErrors {
                let lint = try PluginLint.run(URL(fileURLWithPath: target), identify: { try LibraryProbe.probe($0, executable: selfExecutable) })
                print("lint \(lint.title)")
                for f in lint.findings {
                    print("\(f.level.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(f.subject): \(f.text)")
                }
                let summary = "\(lint.problems) problem\(lint.problems == 1 ? "" : "s"), \(lint.warnings) warning\(lint.warnings == 1 ? "" : "s")"
                guard lint.problems == 0 else {
                    fflush(stdout) // the findings before the error line, in a shared pipe too
                    throw EunomiaError("lint found \(summary)")
                }
                print(summary)
            }
        }
    }
}
