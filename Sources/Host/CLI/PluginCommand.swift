import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct Plugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, find, upgrade, inspect, remove, pack, sign and push tracker plugins.",
        subcommands: [Install.self, Search.self, Outdated.self, Upgrade.self, List.self, Info.self, Remove.self, Pack.self, Sign.self, Push.self])
}
