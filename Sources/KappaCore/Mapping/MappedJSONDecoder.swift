/// Decodes a JSON payload by a route's ``PayloadMapping``: one pass over the bytes parses what the root paths
/// lead to (the readings objects, the time, device and tag values) and skips the rest without making
/// Strings or arrays of it (``PathSelection``); then the readings objects are read.
///
/// Rules (docs/payload-mapping.md): numbers are values; booleans 1/0; strings are a tag (`tags`), a state
/// (`states`), a number (`"21.5"`), else skipped or dead-lettered as `strings` says; `null` is skipped;
/// arrays inside a reading object are skipped unless `strings=dead_letter`; nested objects are flattened
/// with `.`. Fields the time, device or tag paths point at are not read as metrics. Every problem names
/// the path and the offending value.
struct MappedJSONDecoder {
    let mapping: PayloadMapping.Rules
    let rootPaths: PayloadMapping.RootPaths
    let match: TopicMatch
    let limits: DecodingLimits
    let receivedAt: Timestamp

    func decode(bytes: UnsafeRawBufferPointer, into readings: inout [Reading], problems: inout [DecodeProblem]) {
        var parser = JSONTelemetryDecoder(bytes: bytes, limits: limits, match: match, receivedAt: receivedAt)
        let roots: [JSONValue?]
        do {
            roots = try parser.parseSelected(rootPaths.selection)
        } catch {
            problems.append(error.problem)
            return
        }
        let firstReading = readings.count, firstProblem = problems.count
        var device = match.device
        if let path = mapping.device {
            switch roots[rootPaths.device!] {
            case .string(let text)?: device = text
            case .number(_, let number)? where number.int64Value(scaledBy: 0) != nil: device = String(number.int64Value(scaledBy: 0)!)
            case let other:
                problems.append(DecodeProblem(reason: .invalidDevice, message: "device path \(path) holds \(other?.excerpt ?? "nothing"), not a device id", field: path.description))
                return
            }
        }
        var tags = match.tags
        for (tagPath, id) in zip(mapping.tagPaths, rootPaths.tags) {
            guard let value = roots[id], let text = Self.tagText(value) else { continue }
            Self.setTag(tagPath.name, text, in: &tags)
        }
        let selected = roots[rootPaths.readings]
        let objects: [JSONValue]
        switch selected {
        case .object?: objects = [selected!]
        case .array(let elements)?: objects = elements
        case let other:
            let place = mapping.readings.map { "readings path \($0)" } ?? "the payload"
            problems.append(DecodeProblem(reason: .noReadings, message: "\(place) holds \(other?.excerpt ?? "nothing"), not an object or a list of objects", field: mapping.readings?.description))
            return
        }
        let inList = Self.isArray(selected)
        for (position, object) in objects.enumerated() {
            // Built only for a problem message: a path per field would cost more than decoding it.
            let objectPath = ObjectPath(readings: mapping.readings, position: inList ? position : nil)
            guard case .object = object else {
                problems.append(DecodeProblem(reason: .unsupportedFormat, message: "reading \(objectPath.text) is \(object.excerpt), not an object", field: objectPath.text))
                continue
            }
            let first = readings.count
            var objectTags = tags
            if let metricPath = mapping.metric, let valuePath = mapping.value {
                readNamedValue(object, roots: roots, metricPath: metricPath, valuePath: valuePath, at: objectPath, device: device, into: &readings, problems: &problems)
            } else {
                readMembers(object, prefix: "", at: objectPath, device: device, tags: &objectTags, into: &readings, problems: &problems)
            }
            for index in first..<readings.count {
                readings[index].tags = objectTags
                if !mapping.units.isEmpty, let unit = mapping.units[readings[index].metric] { readings[index].unit = unit }
            }
            stamp(&readings, from: first, object: object, roots: roots, at: objectPath, problems: &problems)
        }
        if readings.count == firstReading && problems.count == firstProblem && objects.isEmpty {
            problems.append(DecodeProblem(reason: .noReadings, message: "the readings list \(mapping.readings.map(\.description) ?? "") is empty"))
        }
    }

    private static func isArray(_ value: JSONValue?) -> Bool {
        if case .array? = value { return true }
        return false
    }

    /// Where a reading object is, for problem messages.
    struct ObjectPath {
        var readings: JSONPath?
        var position: Int?

        var text: String {
            (readings?.description ?? "") + (position.map { "[\($0)]" } ?? "")
        }
    }

    /// Keys name the metrics; nested objects are flattened with `.` (`prefix` holds the enclosing keys).
    private func readMembers(
        _ object: JSONValue, prefix: String, at path: ObjectPath, device: String, tags: inout [Tag],
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) {
        guard case .object(let members) = object else { return }
        for (key, value) in members {
            if !mapping.ignored.isEmpty && mapping.ignored.contains(key) { continue }
            if prefix.isEmpty && rootPaths.consumedKeys.contains(key) { continue }
            let name = prefix.isEmpty ? key : prefix + key
            if case .object = value {
                readMembers(value, prefix: name + ".", at: path, device: device, tags: &tags, into: &readings, problems: &problems)
                continue
            }
            if case .string(let text) = value, !mapping.tagKeys.isEmpty, mapping.tagKeys.contains(key) {
                Self.setTag(key, text, in: &tags)
                continue
            }
            if !mapping.include.isEmpty && !mapping.include.contains(name) { continue }
            if !mapping.exclude.isEmpty && mapping.exclude.contains(name) { continue }
            if let number = number(value, at: "\(path.text)/\(name.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/"))", problems: &problems) {
                readings.append(Reading(device: device, metric: name, time: receivedAt, value: number, timeSource: .received))
            }
        }
    }

    /// One reading per object: its metric and value by path (`{"name": "temperature", "v": 21.5}`).
    private func readNamedValue(
        _ object: JSONValue, roots: [JSONValue?], metricPath: JSONPath, valuePath: JSONPath, at path: ObjectPath, device: String,
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) {
        let metricValue = value(of: metricPath, readFromRootAs: rootPaths.metric, in: object, roots: roots)
        guard case .string(let name)? = metricValue else {
            problems.append(DecodeProblem(reason: .unsupportedFormat, message: "reading \(path.text): metric path \(metricPath) holds \(metricValue?.excerpt ?? "nothing"), not a name", field: metricPath.description))
            return
        }
        if mapping.ignored.contains(name) || mapping.exclude.contains(name) || (!mapping.include.isEmpty && !mapping.include.contains(name)) { return }
        guard let value = value(of: valuePath, readFromRootAs: rootPaths.value, in: object, roots: roots) else { return }
        if let number = number(value, at: "\(path.text) \(valuePath)", problems: &problems) {
            readings.append(Reading(device: device, metric: name, time: receivedAt, value: number, timeSource: .received))
        }
    }

    /// A field's value, or nil when it is skipped (null, an unmapped string or array) or reported.
    private func number(_ value: JSONValue, at path: @autoclosure () -> String, problems: inout [DecodeProblem]) -> Double? {
        switch value {
        case .number(let number, _):
            guard number.isFinite else {
                problems.append(DecodeProblem(reason: .nonFiniteValue, message: "\(path()) is \(value.excerpt), beyond the range of a Double", field: path()))
                return nil
            }
            return number
        case .bool(let flag):
            return flag ? 1 : 0
        case .null:
            return nil
        case .string(let text):
            if let state = mapping.states[text] { return state }
            if let number = Double(text), number.isFinite, text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true { return number }
            if mapping.strings == .deadLetter {
                problems.append(DecodeProblem(reason: .nonNumericValue, message: "\(path()) is \(value.excerpt), not a number nor a listed state", field: path()))
            }
            return nil
        case .array, .object:
            if mapping.strings == .deadLetter {
                problems.append(DecodeProblem(reason: .unsupportedValue, message: "\(path()) is \(value.excerpt) where a number was expected", field: path()))
            }
            return nil
        }
    }

    /// Gives the object's readings their time from the time path (relative paths from the object).
    private func stamp(_ readings: inout [Reading], from first: Int, object: JSONValue, roots: [JSONValue?], at path: ObjectPath, problems: inout [DecodeProblem]) {
        guard let timePath = mapping.time, first < readings.count else { return }
        guard let value = value(of: timePath, readFromRootAs: rootPaths.time, in: object, roots: roots), !Self.isNull(value) else { return }
        guard let time = timestamp(value) else {
            let count = readings.count - first
            readings.removeSubrange(first...)
            problems.append(DecodeProblem(
                reason: .invalidTimestamp,
                message: "time path \(timePath) holds \(value.excerpt), not a time in the format \(Self.describe(mapping.timeFormat)); \(count) reading(s) rejected",
                field: timePath.description
            ))
            return
        }
        let dropped = limits.stamp(&readings, from: first, with: time, receivedAt: receivedAt)
        if dropped > 0 {
            problems.append(.timestampOutOfRange(time, receivedAt: receivedAt, rejected: dropped, subject: "time path \(timePath) of \(path.text.isEmpty ? "the payload" : path.text):", field: timePath.description, byteOffset: 0))
        }
    }

    /// A path's value: read from the root in the one pass (`id`), or, for a `@` path, from the reading object.
    private func value(of path: JSONPath, readFromRootAs id: Int?, in object: JSONValue, roots: [JSONValue?]) -> JSONValue? {
        guard let id else { return path.resolve(root: object, current: object) }
        return roots[id]
    }

    private static func isNull(_ value: JSONValue) -> Bool {
        if case .null = value { return true }
        return false
    }

    private func timestamp(_ value: JSONValue) -> Timestamp? {
        switch (mapping.timeFormat, value) {
        case (.auto, .number(_, let number)):
            return EpochTimestamp.timestamp(from: number)
        case (.epoch(let unit), .number(_, let number)):
            return number.int64Value(scaledBy: unit.scale).map { Timestamp(nanosecondsSinceEpoch: $0) }
        case (_, .string(let text)):
            return Self.timestamp(text: text, format: mapping.timeFormat)
        default:
            return nil
        }
    }

    private static func timestamp(text: String, format: PayloadMapping.Rules.TimeFormat) -> Timestamp? {
        var text = text
        // The string's own UTF-8, without a copy.
        return text.withUTF8 { utf8 -> Timestamp? in
            let raw = UnsafeRawBufferPointer(utf8)
            switch format {
            case .auto:
                if let time = RFC3339.timestamp(raw, from: 0, to: raw.count) { return time }
                fallthrough
            case .epoch:
                var position = 0
                guard case .number(let number) = DecimalNumber.scan(raw, at: &position, lenient: false), position == raw.count else { return nil }
                if case .epoch(let unit) = format {
                    return number.int64Value(scaledBy: unit.scale).map { Timestamp(nanosecondsSinceEpoch: $0) }
                }
                return EpochTimestamp.timestamp(from: number)
            case .rfc3339:
                return RFC3339.timestamp(raw, from: 0, to: raw.count)
            case .local, .zone:
                return nil
            }
        } ?? {
            switch format {
            case .local(let offset):
                // A zone-less time is the configured offset's local time: read it as if it said so.
                let sign = offset < 0 ? "-" : "+"
                let magnitude = abs(offset)
                let bytes = Array(text.utf8) + Array("\(sign)\(twoDigits(magnitude / 3_600)):\(twoDigits(magnitude % 3_600 / 60))".utf8)
                return bytes.withUnsafeBytes { RFC3339.timestamp($0, from: 0, to: $0.count) }
            case .zone(let zone):
                // Read as if it were UTC, then moved back by the zone's offset at that local time.
                let bytes = Array(text.utf8) + [UInt8(ascii: "Z")]
                guard let asUTC = bytes.withUnsafeBytes({ RFC3339.timestamp($0, from: 0, to: $0.count) }) else { return nil }
                let nanoseconds = asUTC.nanosecondsSinceEpoch
                let localSeconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
                let offset = localSeconds - zone.secondsSinceEpoch(ofLocal: localSeconds)
                let (instant, overflow) = nanoseconds.subtractingReportingOverflow(offset * 1_000_000_000)
                return overflow ? nil : Timestamp(nanosecondsSinceEpoch: instant)
            default:
                return nil
            }
        }()
    }

    private static func twoDigits(_ number: Int) -> String {
        number < 10 ? "0\(number)" : "\(number)"
    }

    private static func describe(_ format: PayloadMapping.Rules.TimeFormat) -> String {
        switch format {
        case .auto: "auto (epoch s/ms/µs/ns or RFC 3339)"
        case .epoch(let unit): "epoch \(unit.rawValue)"
        case .rfc3339: "RFC 3339"
        case .local(let offset): "local time at UTC\(offset < 0 ? "-" : "+")\(twoDigits(abs(offset) / 3_600)):\(twoDigits(abs(offset) % 3_600 / 60))"
        case .zone(let zone): "local time in \(zone.name)"
        }
    }

    private static func tagText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number, _): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): flag ? "true" : "false"
        default: nil
        }
    }

    /// Tags stay sorted by key; a mapped tag replaces a topic tag of the same name.
    private static func setTag(_ key: String, _ value: String, in tags: inout [Tag]) {
        if let existing = tags.firstIndex(where: { $0.key == key }) {
            tags[existing].value = value
        } else {
            tags.append(Tag(key: key, value: value))
            tags.sort { $0.key < $1.key }
        }
    }
}
