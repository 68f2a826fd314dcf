import EunomiaRules
import EunomiaSchema
import Foundation
import XCTest

/// Rules files: what loads, and the one line each mistake gets (file, line, rule).
final class RuleFileTests: XCTestCase {
    /// Schemas as the store would have them: the bundled plugins' schema.json files.
    func schema(_ plugin: String) -> PluginSchema? {
        try? TestSupport.bundledSchema(plugin)
    }

    func load(_ yaml: String) throws -> RuleFile { try RuleFile.parse(yaml, path: "/etc/r.yaml", schema: schema) }

    func refused(_ yaml: String) -> String {
        do {
            _ = try load(yaml)
            return "loaded"
        } catch let e as EunomiaError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    let good = """
        - list: editors
          items: [vi, nano]
        - macro: etc
          condition: path startswith "/etc/"
        - rule: Editor in etc
          desc: an editor opened a file below /etc
          plugin: opensnoop
          condition: etc and comm in (editors)
          output: "{comm} opened {path} ({container.id})"
          priority: notice
          tags: [test]
        - rule: Off
          plugins: [opensnoop, execsnoop]
          condition: comm == x
          output: off
          priority: INFO
          enabled: false
        """

    func testAFileLoads() throws {
        let file = try load(good)
        XCTAssertEqual(file.rules.map(\.name), ["Editor in etc", "Off"])
        XCTAssertEqual(file.rules[0].priority, .notice)
        XCTAssertEqual(file.rules[0].tags, ["test"])
        XCTAssertEqual(file.rules[0].location, "r.yaml:5")
        XCTAssertEqual(file.rules[1].plugins, ["opensnoop", "execsnoop"])
        XCTAssertFalse(file.rules[1].enabled)
        XCTAssertEqual(try load("").rules.count, 0)
    }

    func testTheDefaultRulesLoadAgainstTheBundledSchemas() throws {
        let file = try RuleFile.load(path: TestSupport.repoRoot.appendingPathComponent("rules/default.yaml").path, schema: schema)
        XCTAssertEqual(Set(file.rules.map(\.name)), [
            "Terminal shell in container", "Linux Kernel Module Injection Detected", "PTRACE attached to process", "Write below etc",
            "Execution from /dev/shm", "Fileless execution via memfd_create", "Mount in container", "BPF program loaded",
        ])
        XCTAssertTrue(file.rules.allSatisfy(\.enabled))
    }

    func testMistakesNameTheFileLineAndRule() {
        let rule = "- rule: R\n  plugin: opensnoop\n  output: o\n  priority: info\n"
        XCTAssertEqual(refused(rule + "  condition: pathh == x\n"),
                       "r.yaml:1: rule 'R': condition, for opensnoop, at 1: unknown field 'pathh' (opensnoop has: time, uid, pid, tid, cgroup_id, mount_ns, pid_ns, comm, fd, err, flags, mode, path, container.id, container.name, container.image, container.runtime, k8s.pod.name, k8s.ns.name)")
        XCTAssertEqual(refused("- rule: R\n  plugin: nosuch\n  condition: a == b\n  output: o\n  priority: info\n"),
                       "r.yaml:1: rule 'R': plugin 'nosuch' is not installed (eunomia plugin install nosuch)")
        XCTAssertEqual(refused(rule.replacingOccurrences(of: "info", with: "loud") + "  condition: pid == 1\n"),
                       "r.yaml:1: rule 'R': priority 'loud' is not one of info, notice, warning, error, critical")
        XCTAssertEqual(refused(rule.replacingOccurrences(of: "output: o", with: "output: '{nope}'") + "  condition: pid == 1\n"),
                       "r.yaml:1: rule 'R': output names {nope}, which is not a field of opensnoop")
        XCTAssertEqual(refused(rule + "  condition: pid == 1\n  colour: red\n"),
                       "r.yaml:1: rule 'R': unknown key 'colour' (condition, desc, enabled, output, plugin, plugins, priority, rule, tags)")
        XCTAssertEqual(refused(rule + "  condition: pid == 1\n" + rule + "  condition: pid == 2\n"), "r.yaml:6: rule 'R' is defined twice")
        XCTAssertEqual(refused(rule), "r.yaml:1: missing 'condition'")
        XCTAssertEqual(refused("- rule: R\n  condition: pid == 1\n  output: o\n  priority: info\n"),
                       "r.yaml:1: rule 'R': names no plugin (plugin: NAME, or plugins: [A, B]): the trackers whose records it reads")
        XCTAssertEqual(refused("- macro: m\n  condition: pid ==\n"), "r.yaml:1: macro 'm': condition at 7: the condition ends where a value was expected")
        XCTAssertEqual(refused("- macro: Bad Name\n  condition: pid == 1\n"), "r.yaml:1: macro name 'Bad Name' must be lower_snake_case (and not a keyword)")
        XCTAssertEqual(refused("- list: l\n  items: []\n"), "r.yaml:1: list 'l' has no items")
        XCTAssertEqual(refused("- something: x\n"), "r.yaml:1: an entry needs 'rule', 'macro' or 'list'")
        XCTAssertEqual(refused("rule: R\n"), "r.yaml:1: a rules file is a list of rule, macro and list entries ('- rule: ...')")
        XCTAssertTrue(refused("- rule: [unclosed\n").hasPrefix("r.yaml: not valid YAML: "), refused("- rule: [unclosed\n"))
        XCTAssertEqual(refused(rule + "  condition: pid == 1\n  enabled: maybe\n"), "r.yaml:1: rule 'R': enabled is true or false, not 'maybe'")
    }
}
