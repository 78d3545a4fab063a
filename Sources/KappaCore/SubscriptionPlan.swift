/// A set of MQTT subscription filters no two of which can both match one topic.
///
/// Brokers deliver a message once per matching subscription of a client (mosquitto 2 does, and MQTT 3.1.1
/// allows it), so overlapping filters would duplicate messages. Starting from the routes' filters, while
/// two filters overlap (some topic matches both):
/// - if one covers the other (every topic matching the other matches it), the covered one is dropped:
///   `devices/+/+` absorbs `devices/+/telemetry`;
/// - otherwise both are replaced by their least general common filter, level by level (equal literals stay,
///   anything else becomes `+`, a `#` makes the rest `#`): `sites/+/x` and `sites/y/+` become `sites/+/+`.
///   Such a widened filter may deliver topics no template matches; the router says so (`unknown_topic`),
///   and `widened` tells the bridge to expect it.
/// Each step removes at least one filter, so this ends.
public struct SubscriptionPlan: Hashable, Sendable {
    /// Filters to subscribe to, in the order first seen.
    public let filters: [String]
    /// Whether a partial overlap forced a filter wider than any template.
    public let widened: Bool

    public init(filters input: [String]) {
        var filters: [[Substring]] = []
        for filter in input {
            let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
            if !filters.contains(levels) { filters.append(levels) }
        }
        var widened = false
        var changed = true
        while changed {
            changed = false
            search: for i in filters.indices {
                for j in filters.indices where j > i && Self.overlap(filters[i], filters[j]) {
                    if Self.covers(filters[i], filters[j]) {
                        filters.remove(at: j)
                    } else if Self.covers(filters[j], filters[i]) {
                        filters[i] = filters[j]
                        filters.remove(at: j)
                    } else {
                        filters[i] = Self.generalize(filters[i], filters[j])
                        filters.remove(at: j)
                        widened = true
                    }
                    changed = true
                    break search
                }
            }
        }
        self.filters = filters.map { $0.joined(separator: "/") }
        self.widened = widened
    }

    /// Whether every topic that matches `narrow` also matches `wide`.
    static func covers(_ wide: [Substring], _ narrow: [Substring]) -> Bool {
        for (index, level) in wide.enumerated() {
            if level == "#" {
                // `+` and `#` at the first level do not match `$` topics; a `$` literal is not covered.
                return !(index == 0 && index < narrow.count && narrow[0].hasPrefix("$"))
            }
            guard index < narrow.count else { return false }
            let other = narrow[index]
            if level == "+" {
                if other == "#" { return false }
                if index == 0 && other.hasPrefix("$") { return false }
            } else if level != other {
                return false
            }
        }
        return wide.count == narrow.count
    }

    /// Whether some topic matches both filters.
    static func overlap(_ a: [Substring], _ b: [Substring]) -> Bool {
        var index = 0
        while true {
            let aEnded = index >= a.count, bEnded = index >= b.count
            if aEnded && bEnded { return true }
            // `x/#` also matches `x` itself.
            if !aEnded && a[index] == "#" { return index > 0 || bEnded || !b[index].hasPrefix("$") }
            if !bEnded && b[index] == "#" { return index > 0 || aEnded || !a[index].hasPrefix("$") }
            if aEnded || bEnded { return false }
            let x = a[index], y = b[index]
            if x != "+" && y != "+" && x != y { return false }
            if index == 0 && ((x == "+" && y.hasPrefix("$")) || (y == "+" && x.hasPrefix("$"))) { return false }
            index += 1
        }
    }

    static func generalize(_ a: [Substring], _ b: [Substring]) -> [Substring] {
        var result: [Substring] = []
        for index in 0..<max(a.count, b.count) {
            guard index < a.count, index < b.count, a[index] != "#", b[index] != "#" else {
                result.append("#")
                break
            }
            result.append(a[index] == b[index] ? a[index] : "+")
        }
        return result
    }
}
