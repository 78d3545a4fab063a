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
/// **Memory.** A device's name is kept once for its metrics, and each metric's name once for the fleet; a
/// series is two 4-byte name numbers, a 4-byte hash, a holder count and a 4-byte slot of an open-addressing
/// index (``SeriesNumberIndex``): about 25 bytes per series at a million, where a dictionary keyed by the two
/// Strings plus an array of them took about 105.
///
/// Numbers live only in this process; nothing stores them. Thread-safe (processors run on threads of their
/// own); one lock per lookup, held for a hash probe.
public final class SeriesRegistry: Sendable {
    private struct Table {
        /// Per number: its device's number in ``devices`` (high half) and its metric's in ``metrics`` (low half).
        var names: [UInt64] = []
        /// Per number: how many processors hold it (0: free, in ``free``).
        var holders: [UInt16] = []
        var free: [UInt32] = []
        var reused = 0
        var devices = NameTable()
        var metrics = NameTable()
        var index = SeriesNumberIndex()

        func isNamed(_ number: UInt32, device: String, metric: String) -> Bool {
            let packed = names[Int(number)]
            return devices.names[Int(packed >> 32)] == device && metrics.names[Int(packed & 0xFFFF_FFFF)] == metric
        }
    }

    private let table = Mutex(Table())

    public init() {}

    /// The number of `device`/`metric`, taken once more when the caller does not hold it yet (`isHeld` says).
    func hold(device: String, metric: String, isHeld: (UInt32) -> Bool) -> UInt32 {
        let hash = Self.hash(device: device, metric: metric)
        return table.withLock { table in
            if let number = table.index.find(hash: hash, where: { table.isNamed($0, device: device, metric: metric) }) {
                if !isHeld(number) { table.holders[Int(number)] += 1 }
                return number
            }
            let name = UInt64(table.devices.intern(device)) << 32 | UInt64(table.metrics.intern(metric))
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
            table.index.insert(number, hash: hash)
            return number
        }
    }

    /// The callers let `numbers` go; a number nobody holds any more is forgotten and reused.
    func release<Numbers: Sequence<UInt32>>(_ numbers: Numbers) {
        table.withLock { table in
            for number in numbers {
                table.holders[Int(number)] -= 1
                guard table.holders[Int(number)] == 0 else { continue }
                table.index.remove(number)
                let packed = table.names[Int(number)]
                table.devices.release(UInt32(packed >> 32))
                table.metrics.release(UInt32(packed & 0xFFFF_FFFF))
                table.free.append(number)
            }
        }
    }

    /// The name of a number held by the caller.
    public subscript(number: UInt32) -> SeriesName {
        table.withLock { table in
            let packed = table.names[Int(number)]
            return SeriesName(device: table.devices.names[Int(packed >> 32)], metric: table.metrics.names[Int(packed & 0xFFFF_FFFF)])
        }
    }

    /// Series held by at least one processor.
    public var heldCount: Int {
        table.withLock { $0.index.count }
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

    /// In memory only (the index is rebuilt in every process), so the per-process seed of `Hasher` is fine here.
    private static func hash(device: String, metric: String) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(device)
        hasher.combine(metric)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }
}

/// Names interned to numbers, each kept while something uses it: the devices (or metrics) of the registry's series.
private struct NameTable {
    private(set) var names: [String] = []
    private var numbers: [String: UInt32] = [:]
    /// Per number: how many series use the name (0: free, in ``free``).
    private var uses: [UInt32] = []
    private var free: [UInt32] = []

    /// The name's number, used once more.
    mutating func intern(_ name: String) -> UInt32 {
        if let number = numbers[name] {
            uses[Int(number)] += 1
            return number
        }
        let number: UInt32
        if let reused = free.popLast() {
            number = reused
            names[Int(number)] = name
            uses[Int(number)] = 1
        } else {
            number = UInt32(names.count)
            names.append(name)
            uses.append(1)
        }
        numbers[name] = number
        return number
    }

    mutating func release(_ number: UInt32) {
        uses[Int(number)] -= 1
        guard uses[Int(number)] == 0 else { return }
        numbers[names[Int(number)]] = nil
        names[Int(number)] = ""
        free.append(number)
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
