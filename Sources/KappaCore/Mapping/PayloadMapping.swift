/// How a route reads a JSON payload that is not in Kappa's own shape: where the readings, the time, the
/// device and the tags are, and what to do with strings, booleans, nulls and units. Configuration only: a
/// route is given as `TEMPLATE=json;OPTION=VALUE;…` (docs/payload-mapping.md lists the options).
///
/// A route without a mapping is decoded by the one-pass decoder as before; a mapped route parses only the
/// parts of the payload its paths lead to (``PathSelection``) into trees (``JSONValue``) and reads them
/// (``MappedJSONDecoder``).
///
/// A class, so that a route and every topic match carry one pointer: the match is copied per message, and
/// an inline struct of this size made unmapped routes measurably slower. Immutable, so `Sendable`.
public final class PayloadMapping: Hashable, Sendable, CustomStringConvertible {
    /// The options as given; equal options are equal mappings.
    public let description: String
    public let rules: Rules
    /// The rules' paths from the payload's root, worked out once per route.
    let rootPaths: RootPaths

    public init(options text: some StringProtocol) throws(PayloadMappingError) {
        description = String(text)
        rules = try Rules(options: text)
        rootPaths = RootPaths(rules)
    }

    public static func == (lhs: PayloadMapping, rhs: PayloadMapping) -> Bool {
        lhs === rhs || lhs.rules == rhs.rules
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rules)
    }
}

extension PayloadMapping {
    /// The paths a mapping reads from the payload's root, in one ``PathSelection``, and where each is in it.
    /// A `@` time, metric or value path is read from each reading object instead; the device and tag paths
    /// are read from the root either way.
    struct RootPaths: Sendable {
        let selection: PathSelection
        /// The readings object or list: the whole payload when the rules name none.
        let readings: Int
        let time: Int?
        let device: Int?
        /// In the order of `Rules.tagPaths`.
        let tags: [Int]
        let metric: Int?
        let value: Int?
        /// Top-level keys of a reading object that the time, device or a tag path end in: not metrics.
        let consumedKeys: [String]

        init(_ rules: Rules) {
            var paths: [[JSONPath.Step]] = []
            func add(_ path: JSONPath?, fromRootOnly: Bool = false) -> Int? {
                guard let path, !(fromRootOnly && path.isRelative) else { return nil }
                paths.append(path.steps)
                return paths.count - 1
            }
            readings = add(rules.readings) ?? add(JSONPath.root)!
            time = add(rules.time, fromRootOnly: true)
            device = add(rules.device)
            tags = rules.tagPaths.map { add($0.path)! }
            metric = add(rules.metric, fromRootOnly: true)
            value = add(rules.value, fromRootOnly: true)
            selection = PathSelection(paths: paths)
            consumedKeys = ([rules.time, rules.device] + rules.tagPaths.map(\.path)).compactMap { $0?.lastMember }
        }
    }

    /// The parsed options.
    public struct Rules: Hashable, Sendable {
        public enum TimeFormat: Hashable, Sendable {
            /// Epoch s/ms/µs/ns by magnitude, RFC 3339, or a numeric string: the default decoder's rule.
            case auto
            /// Epoch time in the unit, as an integer or a fraction (or a string holding one).
            case epoch(EpochUnit)
            /// RFC 3339 with any fraction and `Z` or an offset.
            case rfc3339
            /// A date-time without a zone (`2024-05-01T12:00:00`, `2024-05-01 12:00:00.5`), local to a fixed
            /// UTC offset in seconds.
            case local(offsetSeconds: Int)
            /// A date-time without a zone, local to a named zone with its daylight saving rules
            /// (`local:Europe/Berlin`; ``ZoneRules`` says how times at a transition are read).
            case zone(ZoneRules)
        }

        public enum EpochUnit: String, Hashable, Sendable {
            case seconds = "s", milliseconds = "ms", microseconds = "us", nanoseconds = "ns"

            /// Decimal places from the unit to nanoseconds.
            var scale: Int {
                switch self {
                case .seconds: 9
                case .milliseconds: 6
                case .microseconds: 3
                case .nanoseconds: 0
                }
            }
        }

        /// What a string value that is no number, no state and no tag becomes.
        public enum StringPolicy: String, Hashable, Sendable {
            /// Skipped: a fleet's `"battery": "OK"` never fills the dead letters.
            case ignore
            /// A `non_numeric_value` dead letter naming the path and value.
            case deadLetter = "dead_letter"
        }

        public struct TagPath: Hashable, Sendable {
            public var name: String
            public var path: JSONPath
        }

        /// The readings object, or a list of them; nil: the whole payload.
        public var readings: JSONPath?
        public var time: JSONPath?
        public var timeFormat: TimeFormat = .auto
        public var device: JSONPath?
        /// Tags read by path (`tag.site=/meta/site`).
        public var tagPaths: [TagPath] = []
        /// With `value`, each reading object is one reading named by this path (`metric=@.name;value=@.v`);
        /// without, the object's keys name the metrics (nested objects flattened with `.`).
        public var metric: JSONPath?
        public var value: JSONPath?
        /// String fields that become tags of the object's readings instead of metrics.
        public var tagKeys: Set<String> = []
        /// String values read as numbers (`ON` → 1, `OFF` → 0).
        public var states: [String: Double] = [:]
        /// Keys never read (at any depth).
        public var ignored: Set<String> = []
        /// Metric names taken (empty: all); compared with the flattened name.
        public var include: Set<String> = []
        public var exclude: Set<String> = []
        /// A unit per metric, kept with each reading.
        public var units: [String: String] = [:]
        public var strings: StringPolicy = .ignore

        init() {}

        /// Reads `OPTION=VALUE` pairs separated by `;`; lists inside a value are separated by `|` and pairs
        /// by `:` (commas separate whole routes in `KAPPA_TOPICS`).
        public init(options text: some StringProtocol) throws(PayloadMappingError) {
            self.init()
            for option in text.split(separator: ";").map({ $0.trimmingSpaces }) where !option.isEmpty {
                guard let equals = option.firstIndex(of: "=") else {
                    throw PayloadMappingError("mapping option '\(option)' needs a value (OPTION=VALUE)")
                }
                let name = String(option[..<equals]).trimmingSpaces
                let value = String(option[option.index(after: equals)...]).trimmingSpaces
                switch name {
                case "readings": readings = try JSONPath(value)
                case "time": time = try JSONPath(value)
                case "time_format": timeFormat = try Self.timeFormat(value)
                case "device": device = try JSONPath(value)
                case "metric": metric = try JSONPath(value)
                case "value": self.value = try JSONPath(value)
                case "tags": tagKeys = Self.list(value)
                case "ignore": ignored = Self.list(value)
                case "include": include = Self.list(value)
                case "exclude": exclude = Self.list(value)
                case "states":
                    for (state, number) in try Self.pairs(value, option: name) {
                        guard let parsed = Double(number), parsed.isFinite else {
                            throw PayloadMappingError("states: '\(number)' for '\(state)' is not a number")
                        }
                        states[state] = parsed
                    }
                case "units":
                    for (metric, unit) in try Self.pairs(value, option: name) { units[metric] = unit }
                case "strings":
                    guard let policy = StringPolicy(rawValue: value) else {
                        throw PayloadMappingError("strings: use ignore or dead_letter, not '\(value)'")
                    }
                    strings = policy
                default:
                    if name.hasPrefix("tag."), name.count > 4 {
                        tagPaths.append(TagPath(name: String(name.dropFirst(4)), path: try JSONPath(value)))
                    } else {
                        throw PayloadMappingError("unknown mapping option '\(name)': use readings, time, time_format, device, tag.NAME, metric, value, tags, states, ignore, include, exclude, units or strings")
                    }
                }
            }
            if (metric == nil) != (value == nil) {
                throw PayloadMappingError("metric and value paths go together: each reading object names its metric and holds its value")
            }
        }

        private static func timeFormat(_ text: String) throws(PayloadMappingError) -> TimeFormat {
            switch text {
            case "auto": return .auto
            case "rfc3339": return .rfc3339
            default:
                if let unit = EpochUnit(rawValue: text) { return .epoch(unit) }
                if text.hasPrefix("local:") {
                    return .zone(try ZoneRules(named: String(text.dropFirst("local:".count))))
                }
                if text.hasPrefix("local") {
                    let zone = text.dropFirst("local".count)
                    if zone.isEmpty || zone == "Z" || zone == "UTC" { return .local(offsetSeconds: 0) }
                    let sign = zone.first == "-" ? -1 : 1
                    let parts = zone.dropFirst().split(separator: ":")
                    if zone.first == "+" || zone.first == "-", parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
                       (0...23).contains(hours), (0...59).contains(minutes) {
                        return .local(offsetSeconds: sign * (hours * 3_600 + minutes * 60))
                    }
                }
                throw PayloadMappingError("time_format: use auto, s, ms, us, ns, rfc3339, local±HH:MM or local:ZONE (local:Europe/Berlin), not '\(text)'")
            }
        }

        private static func list(_ text: String) -> Set<String> {
            Set(text.split(separator: "|").map { String($0).trimmingSpaces }.filter { !$0.isEmpty })
        }

        private static func pairs(_ text: String, option: String) throws(PayloadMappingError) -> [(String, String)] {
            var pairs: [(String, String)] = []
            for item in text.split(separator: "|") {
                guard let colon = item.lastIndex(of: ":") else {
                    throw PayloadMappingError("\(option): '\(item)' needs KEY:VALUE")
                }
                pairs.append((String(item[..<colon]).trimmingSpaces, String(item[item.index(after: colon)...]).trimmingSpaces))
            }
            return pairs
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
