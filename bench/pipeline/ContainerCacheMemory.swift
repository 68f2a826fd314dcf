import EunomiaContainers
import Foundation

/// `eunomia-bench-pipeline container-cache N`: N real cgroups named as docker names its
/// containers, each resolved through ContainerCache (path, runtime, state lookup); prints the
/// resident memory the cache added and the time per resolution, then removes the cgroups.
func containerCacheMemory(_ n: Int) -> Never {
    guard let paths = CgroupPaths() else {
        FileHandle.standardError.write(Data("eunomia-bench-pipeline: no cgroup2 mount\n".utf8))
        exit(1)
    }
    let parent = paths.mountPoint + "/eunomia-bench-\(getpid())"
    mkdir(parent, 0o755)
    var ids: [UInt64] = []
    for i in 0..<n {
        let hex = String(format: "%064x", i + 1)
        let dir = "\(parent)/docker-\(hex).scope"
        mkdir(dir, 0o755)
        if let id = paths.id(of: String(dir.dropFirst(paths.mountPoint.count))) { ids.append(id) }
    }
    func rssKB() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    let cache = ContainerCache(capacity: 4096, paths: paths)
    let before = rssKB()
    let t0 = DispatchTime.now().uptimeNanoseconds
    var found = 0
    for id in ids where cache.resolve(id) != nil { found += 1 }
    let t1 = DispatchTime.now().uptimeNanoseconds
    let after = rssKB()
    for i in 0..<n { rmdir(String(format: "\(parent)/docker-%064x.scope", i + 1)) }
    rmdir(parent)
    print("{\"cgroups\":\(ids.count),\"containers\":\(found),\"cached\":\(cache.count),\"rss_added_kb\":\(after - before),"
        + "\"us_per_resolution\":\(Double(t1 - t0) / 1e3 / Double(max(1, ids.count)))}")
    exit(found == n ? 0 : 1)
}
