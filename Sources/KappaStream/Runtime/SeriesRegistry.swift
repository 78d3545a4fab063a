import Synchronization

/// A device and metric pair: one time series.
public struct SeriesName: Hashable, Sendable {
    public var device: String
    public var metric: String

    public init(device: String, metric: String) {
        self.device = device
        self.metric = metric
    }
}

/// One per gateway, shared by its processors: gives each series a small dense number, so per-reading state
/// is kept in arrays indexed by it and the names are kept once, not once per processor.
///
/// A number is held by each processor that keeps state under it; when the last holder lets it go (the series
/// went idle, see ``SeriesMemory``) the name leaves memory and the number is given to the next new series, so
/// the table's size follows the series held, not every series ever seen. Tags are not part of the name: the
/// stored rollups and registry are keyed by device and metric, and a tag such as the unit may change from
/// one reading to the next of the same series.
///
/// Numbers live only in this process; nothing stores them. Thread-safe (processors run on threads of their
/// own); one lock per lookup, held for a dictionary probe.
public final class SeriesRegistry: Sendable {
    private struct Table {
        var numbers: [SeriesName: UInt32] = [:]
        var names: [SeriesName] = []
        /// Per number: how many processors hold it (0: free, in ``free``).
        var holders: [UInt16] = []
        var free: [UInt32] = []
        var reused = 0
    }

    private let table = Mutex(Table())

    public init() {}

    /// The number of `device`/`metric`, taken once more when the caller does not hold it yet (`isHeld` says).
    func hold(device: String, metric: String, isHeld: (UInt32) -> Bool) -> UInt32 {
        table.withLock { table in
            let name = SeriesName(device: device, metric: metric)
            if let number = table.numbers[name] {
                if !isHeld(number) { table.holders[Int(number)] += 1 }
                return number
            }
            let number: UInt32
            if let reused = table.free.popLast() {
                number = reused
                table.reused += 1
                table.names[Int(number)] = name
                table.holders[Int(number)] = 1
            } else {
                number = UInt32(table.names.count)
                table.names.append(name)
                table.holders.append(1)
            }
            table.numbers[name] = number
            return number
        }
    }

    /// The callers let `numbers` go; a number nobody holds any more is forgotten and reused.
    func release<Numbers: Sequence<UInt32>>(_ numbers: Numbers) {
        table.withLock { table in
            for number in numbers {
                table.holders[Int(number)] -= 1
                guard table.holders[Int(number)] == 0 else { continue }
                table.numbers[table.names[Int(number)]] = nil
                table.names[Int(number)] = SeriesName(device: "", metric: "")
                table.free.append(number)
            }
        }
    }

    /// The name of a number held by the caller.
    public subscript(number: UInt32) -> SeriesName {
        table.withLock { $0.names[Int(number)] }
    }

    /// Series held by at least one processor.
    public var heldCount: Int {
        table.withLock { $0.numbers.count }
    }

    /// Numbers given to a series after every processor had let their previous series go: how often idle
    /// state left memory and its place was taken.
    public var reusedCount: Int {
        table.withLock { $0.reused }
    }

    /// One more than the highest number given out: the length of arrays indexed by number.
    var capacity: Int {
        table.withLock { $0.names.count }
    }
}

/// How a processor keeps per-series state: under the gateway's shared ``SeriesRegistry``, and for how long a
/// series may stay silent before its state leaves memory (nil: never). A series that returns gets its state
/// back from what the checkpoint stored, so outputs are the same as if it had stayed.
public struct SeriesMemory: Sendable {
    public var registry: SeriesRegistry
    public var idleAfter: Duration?

    /// A registry of the processor's own, nothing evicted.
    public init(registry: SeriesRegistry = SeriesRegistry(), idleAfter: Duration? = nil) {
        self.registry = registry
        self.idleAfter = idleAfter
    }
}
