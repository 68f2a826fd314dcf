import ArgumentParser
import EunomiaDaemon
import EunomiaHost
import EunomiaRegistry
import Foundation
import Version

extension Plugin {
    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the newest allowed version of installed plugins, and swap running trackers to it.",
            discussion: """
                With no NAME, every installed plugin a registry lists; NAME@RANGE keeps to a range (NAME@^1.2). Each new version is downloaded, checked and installed as plugin install does. Then, unless --no-swap, every tracker of that plugin running in the server (--socket or --server) is hot-swapped to it through the API, one swap report per tracker; the old version keeps running if a swap fails.

                Without a server at the default socket the upgrade only installs. The old versions stay in the store (plugin remove NAME@VERSION).
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var sources: RegistryOptions
        @OptionGroup var address: ServerAddress
        @Flag(help: "Install only; leave running trackers on their version.") var noSwap = false
        @Flag(help: "Install versions that no trusted key signed (recorded as unsigned, with a warning).") var allowUnsigned = false
        @Argument(help: "Plugins to upgrade: NAME or NAME@RANGE (default: all installed).") var plugins: [String] = []

        func run() async throws {
            let (store, _) = try global.setUp()
            try await reportingErrorsAsync {
                let resolver = try sources.resolver()
                let available = try await Upgrades.available(in: store, resolver: resolver, only: plugins)
                if available.isEmpty {
                    print(plugins.isEmpty ? "every installed plugin is at the newest version its registry lists"
                                          : "nothing to upgrade: the newest allowed versions are installed")
                    return
                }
                var installed: [(String, Version)] = []
                for a in available {
                    let (plugin, outcome) = try await Plugin.Install.install(a.name, .exactly(a.choice.release.version), from: resolver,
                                                                               into: store, allowUnsigned: allowUnsigned)
                    Plugin.Install.report(plugin, outcome)
                    installed.append((plugin.name, plugin.semver))
                }
                if !noSwap { try await swapRunning(to: installed) }
            }
        }

        /// Swaps every tracker running an older version of an upgraded plugin. A failed swap is
        /// reported and the rest go on; the command then fails.
        func swapRunning(to upgraded: [(String, Version)]) async throws {
            let api = try address.api(store: global.store)
            let listing: Any
            do {
                listing = try await api.call(.GET, "/api/v1/trackers", timeout: .seconds(10))
            } catch let e as EunomiaError where address.socket == nil && address.server == nil {
                print("no server answered at \(DaemonConfig.defaultSocket): installed only (\(e.message))")
                return
            }
            let trackers = (listing as? [String: Any])?["trackers"] as? [[String: Any]] ?? []
            var failures = 0
            var swapped = 0
            for (name, version) in upgraded {
                for t in trackers where t["plugin"] as? String == name {
                    guard let id = t["id"] as? String, TrackerID.isValid(id),
                          let running = (t["version"] as? String).flatMap(Validate.semver), running < version else { continue }
                    // A config tracker keeps to its range: swapping it outside would be undone by the next reload.
                    if let text = t["requirement"] as? String, let wanted = try? PluginReference.parse(text), !wanted.requirement.admits(version) {
                        print("tracker \(id) stays on \(name)@\(running): it asks for \(TerminalText.sanitized(text)), which \(version) is outside")
                        continue
                    }
                    do {
                        let r = try await api.call(.POST, "/api/v1/trackers/\(segment(id))/swap", json: ["version": version.description])
                        print(TrackerSwap.line(r as? [String: Any] ?? [:], id: id))
                        swapped += 1
                    } catch let e as EunomiaError {
                        FileHandle.standardError.write(Data("eunomia: error: swap of tracker \(id) to \(name)@\(version) failed, it keeps running \(running): \(e.message)\n".utf8))
                        failures += 1
                    }
                }
            }
            if swapped == 0 && failures == 0 { print("no running tracker uses an upgraded plugin") }
            if failures > 0 { throw ExitCode.failure }
        }
    }
}
