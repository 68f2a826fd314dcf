import ArgumentParser
import CHostSupport
import EunomiaHost
import Foundation
import Logging

struct Plugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, inspect, remove, pack, sign and push tracker plugins.",
        subcommands: [Install.self, List.self, Info.self, Remove.self, Pack.self, Sign.self, Push.self])
}
