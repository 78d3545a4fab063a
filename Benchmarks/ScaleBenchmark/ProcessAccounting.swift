import Foundation

/// CPU time and memory of processes and threads, from /proc (Linux).
enum ProcessAccounting {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields of a `stat` file after `(comm)`, numbered from 3 as in proc(5), and the comm.
    struct Stat {
        let name: String
        private let fields: [Substring]

        init?(path: String) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")")
            else { return nil }
            name = String(text[text.index(after: open)..<close])
            fields = text[text.index(after: close)...].split(separator: " ")
        }

        /// Field `number` of proc(5)'s numbering (3 = state).
        func field(_ number: Int) -> Int { Int(fields[number - 3]) ?? 0 }

        var parent: Int32 { Int32(field(4)) }
        var ownTicks: Int { field(14) + field(15) }
        /// CPU of children it has waited for: a PostgreSQL backend that ended counts here, in the postmaster.
        var reapedChildrenTicks: Int { field(16) + field(17) }
        var nice: Int { field(19) }
    }

    /// One thread's name, nice value and CPU ticks so far.
    struct ThreadSample {
        let name: String
        let nice: Int
        let ticks: Int
    }

    static func threads(of pid: Int32) -> [Int32: ThreadSample] {
        let directory = "/proc/\(pid)/task"
        var samples: [Int32: ThreadSample] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let tid = Int32(entry), let stat = Stat(path: "\(directory)/\(entry)/stat") else { continue }
            samples[tid] = ThreadSample(name: stat.name, nice: stat.nice, ticks: stat.ownTicks)
        }
        return samples
    }

    /// CPU seconds of the whole process (every thread, living or ended).
    static func processSeconds(_ pid: Int32) -> Double {
        Double(Stat(path: "/proc/\(pid)/stat")?.ownTicks ?? 0) / ticksPerSecond
    }

    /// CPU seconds of a server and its children: the root's own and reaped children's time, plus every living
    /// child's own. A child that ends between two samples moves from the second term to the first.
    static func treeSeconds(root pid: Int32) -> Double {
        guard let root = Stat(path: "/proc/\(pid)/stat") else { return 0 }
        var ticks = root.ownTicks + root.reapedChildrenTicks
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry), child != pid, let stat = Stat(path: "/proc/\(entry)/stat"), stat.parent == pid else { continue }
            ticks += stat.ownTicks
        }
        return Double(ticks) / ticksPerSecond
    }

    /// A `kB` field of /proc/<pid>/status (`VmRSS:`, `VmHWM:`, `RssAnon:`), in bytes.
    static func statusBytes(_ pid: Int32, _ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1_024
    }
}

/// Where kappa's CPU went between two samples of its threads: the bridge (`mqtt-network`), the processors (their
/// executor's threads run at the processor nice value, or say "processor" in their name), and the rest (the pool,
/// libpq queues, HTTP, threads that ended).
struct KappaCPU {
    var total = 0.0
    var bridge = 0.0
    var processors = 0.0
    var other: Double { total - bridge - processors }
    /// Seconds per thread name (with its nice value), largest first, for the report.
    var byThreadName: [(name: String, seconds: Double)] = []

    static func between(_ before: [Int32: ProcessAccounting.ThreadSample], _ after: [Int32: ProcessAccounting.ThreadSample],
                        processSeconds: Double) -> KappaCPU {
        var cpu = KappaCPU(total: processSeconds)
        var byName: [String: Double] = [:]
        for (tid, sample) in after {
            let seconds = Double(sample.ticks - (before[tid]?.ticks ?? 0)) / ProcessAccounting.ticksPerSecond
            if sample.name == "mqtt-network" {
                cpu.bridge += seconds
            } else if sample.nice > 0 || sample.name.contains("processor") {
                cpu.processors += seconds
            }
            byName["\(sample.name) (nice \(sample.nice))", default: 0] += seconds
        }
        cpu.byThreadName = byName.sorted { $0.value > $1.value }.map { ($0.key, $0.value) }
        return cpu
    }
}
