import Foundation

/// CPU time from /proc, in seconds: a process, each of its threads (by name), and a PostgreSQL cluster.
struct CPUTimes {
    /// The whole process, exited threads included.
    var process: Double = 0
    /// Live threads, summed by thread name (comm); a thread that exited before the sample is only in ``process``.
    var threads: [String: Double] = [:]

    /// What was spent between `earlier` and this sample.
    func since(_ earlier: CPUTimes) -> CPUTimes {
        var delta = CPUTimes(process: process - earlier.process)
        for (name, seconds) in threads { delta.threads[name] = seconds - (earlier.threads[name] ?? 0) }
        return delta
    }

    /// A process's CPU time and its threads'.
    static func of(pid: Int32) -> CPUTimes {
        var times = CPUTimes(process: StatLine(path: "/proc/\(pid)/stat")?.ownSeconds ?? 0)
        let taskDirectory = "/proc/\(pid)/task"
        for task in (try? FileManager.default.contentsOfDirectory(atPath: taskDirectory)) ?? [] {
            guard let line = StatLine(path: "\(taskDirectory)/\(task)/stat") else { continue }
            times.threads[line.name, default: 0] += line.ownSeconds
        }
        return times
    }

    /// A PostgreSQL cluster's CPU time: the postmaster listening on `port`, the children it reaped (their time
    /// is in its cutime/cstime) and the live ones (backends, checkpointer, WAL writer…).
    static func ofPostgres(port: Int) -> Double {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        guard let postmaster = processes.first(where: { pid in
            guard let command = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("/postgres") == true, let flag = arguments.firstIndex(of: "-p"), flag + 1 < arguments.count else { return false }
            return arguments[flag + 1] == String(port)
        }), let own = StatLine(path: "/proc/\(postmaster)/stat") else { return 0 }
        var total = own.ownSeconds + own.reapedChildrenSeconds
        for pid in processes where pid != postmaster {
            if let line = StatLine(path: "/proc/\(pid)/stat"), line.parent == postmaster { total += line.ownSeconds }
        }
        return total
    }
}

/// The fields of one /proc/…/stat line used here.
private struct StatLine {
    var name: String
    var parent: Int32
    var ownSeconds: Double
    var reapedChildrenSeconds: Double

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    init?(path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        // The name may hold spaces and parentheses; the fields after the last ')' start at field 3 (state).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]),
              let user = Double(fields[11]), let system = Double(fields[12]),
              let childUser = Double(fields[13]), let childSystem = Double(fields[14]) else { return nil }
        name = String(text[text.index(after: open)..<close])
        self.parent = parent
        ownSeconds = (user + system) / Self.ticksPerSecond
        reapedChildrenSeconds = (childUser + childSystem) / Self.ticksPerSecond
    }
}
