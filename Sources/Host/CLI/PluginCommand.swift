import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct Plugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, inspect, remove, pack and sign tracker plugins.",
        subcommands: [Install.self, Search.self, Outdated.self, Upgrade.self, List.self, Info.self, Remove.self, Pack.self, Sign.self])
}
