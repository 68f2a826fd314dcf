import ArgumentParser
import CHostSupport
import EunomiaHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

struct Plugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, find, upgrade, inspect and remove tracker plugins; scaffold, build, lint, pack, sign and push your own.",
        subcommands: [Install.self, Search.self, Outdated.self, Upgrade.self, List.self, Info.self, Remove.self, New.self, Build.self, Lint.self, Pack.self, Sign.self, Push.self, Identify.self])
}
