import KappaCore
import Testing

@Suite struct TopicTemplateTests {
    @Test func filterAndCaptures() throws {
        let template = try TopicTemplate("sites/{site}/{device}/{metric}")
        #expect(template.subscriptionFilter == "sites/+/+/+")
        #expect(template.namesMetric)
        let captures = try #require(template.match(topic: "sites/berlin/d7/temperature"))
        #expect(captures.device == "d7")
        #expect(captures.metric == "temperature")
        #expect(captures.tags == [Tag(key: "site", value: "berlin")])
    }

    @Test func tagsComeOutSortedByKey() throws {
        let template = try TopicTemplate("{zone}/{building}/{device}")
        let captures = try #require(template.match(topic: "north/b2/d1"))
        #expect(captures.tags == [Tag(key: "building", value: "b2"), Tag(key: "zone", value: "north")])
    }

    @Test func literalsMustMatchAndLevelCountsMustAgree() throws {
        let template = try TopicTemplate("devices/{device}/telemetry")
        #expect(template.subscriptionFilter == "devices/+/telemetry")
        #expect(template.match(topic: "devices/d1/telemetry")?.device == "d1")
        #expect(template.match(topic: "devices/d1/telemetryx") == nil)
        #expect(template.match(topic: "device/d1/telemetry") == nil)
        #expect(template.match(topic: "devices/d1/telemetry/extra") == nil)
        #expect(template.match(topic: "devices/d1") == nil)
        #expect(template.match(topic: "devices//telemetry") == nil, "an empty level is not a device id")
    }

    @Test func restCaptureTakesTheRemainingLevels() throws {
        let template = try TopicTemplate("plant/{device}/{metric...}")
        #expect(template.subscriptionFilter == "plant/+/#")
        #expect(template.match(topic: "plant/p1/motor/rpm")?.metric == "motor/rpm")
        #expect(template.match(topic: "plant/p1/rpm")?.metric == "rpm")
        #expect(template.match(topic: "plant/p1") == nil)
    }

    @Test func firstLevelPlaceholderDoesNotMatchDollarTopics() throws {
        let template = try TopicTemplate("{device}/{metric}")
        #expect(template.match(topic: "$SYS/uptime") == nil)
        #expect(template.match(topic: "d1/uptime")?.device == "d1")
    }

    @Test func unicodeLevels() throws {
        let template = try TopicTemplate("capteurs/{device}/{metric}")
        #expect(template.match(topic: "capteurs/pièce-1/température")?.metric == "température")
    }

    @Test(arguments: [
        ("", TopicTemplateError.Code.empty),
        ("devices/{id}/telemetry", .missingDevice),
        ("devices/{device}/{device}", .duplicateName),
        ("devices/{}/x/{device}", .invalidName),
        ("devices/{de vice}", .invalidName),
        ("devices/{device", .unbalancedBrace),
        ("devices/{{device}}", .unbalancedBrace),
        ("devices/dev-{device}", .partialLevel),
        ("devices/+/{device}", .wildcardCharacter),
        ("devices/{device}/#", .wildcardCharacter),
        ("{rest...}/{device}", .multiLevelNotLast),
        ("$share/group/devices/{device}", .sharedSubscription),
        ("devices/\u{0}/{device}", .nullCharacter),
    ])
    func parseErrors(_ text: String, _ code: TopicTemplateError.Code) {
        #expect {
            try TopicTemplate(text)
        } throws: { error in
            guard let error = error as? TopicTemplateError else { return false }
            return error.code == code && error.description.contains("invalid topic template")
        }
    }

    @Test func errorMessagesNameTheLevel() {
        do {
            _ = try TopicTemplate("a/b-{device}")
            Issue.record("expected an error")
        } catch {
            #expect(error.level == 2)
            #expect(error.description == "invalid topic template \"a/b-{device}\" at level 2: 'b-{device}': a placeholder must fill its whole level")
        }
    }
}

@Suite struct TopicRouterTests {
    @Test func defaultRoutesPreferTheLiteralTelemetryLevel() throws {
        let router = TopicRouter(routes: TopicRoute.defaults)
        let telemetry = try #require(router.match(topic: "devices/d1/telemetry"))
        #expect(telemetry.format == .json)
        #expect(telemetry.metric == nil)
        #expect(telemetry.routeIndex == 0)
        let metric = try #require(router.match(topic: "devices/d1/humidity"))
        #expect(metric.format == .number)
        #expect(metric.metric == "humidity")
        #expect(router.match(topic: "other/d1/humidity") == nil)
    }

    @Test func specificityDoesNotDependOnListOrder() throws {
        let router = TopicRouter(routes: [
            try TopicRoute("devices/{device}/{metric}"),
            try TopicRoute("devices/{device}/{rest...}", format: .lineProtocol),
            try TopicRoute("devices/{device}/telemetry"),
        ])
        #expect(router.match(topic: "devices/d1/telemetry")?.routeIndex == 2)
        #expect(router.match(topic: "devices/d1/temp")?.routeIndex == 0)
        #expect(router.match(topic: "devices/d1/a/b")?.routeIndex == 1)
    }

    @Test func leftmostDifferenceDecides() throws {
        let router = TopicRouter(routes: [
            try TopicRoute("{site}/{device}/x"),
            try TopicRoute("s1/{device}/{metric}"),
        ])
        // The literal at level 1 outranks the literal at level 3.
        #expect(router.match(topic: "s1/d/x")?.routeIndex == 1)
        #expect(router.match(topic: "s2/d/x")?.routeIndex == 0)
    }

    @Test func equallySpecificRoutesKeepTheirOrder() throws {
        let router = TopicRouter(routes: [
            try TopicRoute("a/{device}/{metric}"),
            try TopicRoute("a/{site}/{device}"),
        ])
        #expect(router.match(topic: "a/x/y")?.routeIndex == 0)
    }

    @Test func defaultSubscriptionIsTheCoveringFilterOnly() {
        let plan = TopicRouter(routes: TopicRoute.defaults).subscriptionPlan
        #expect(plan.filters == ["devices/+/+"])
        #expect(!plan.widened)
    }

    @Test(arguments: [
        (["a/+/b", "a/+/+"], ["a/+/+"], false),
        (["a/+/+", "a/+/b"], ["a/+/+"], false),
        (["a/#", "a/+/b", "a"], ["a/#"], false),
        (["a/+/b", "c/+/b"], ["a/+/b", "c/+/b"], false),
        (["a/+/b", "a/+/b/c"], ["a/+/b", "a/+/b/c"], false),
        (["sites/+/x", "sites/y/+"], ["sites/+/+"], true),
        (["a/+/x", "a/y/+", "a/+/+/z"], ["a/+/+", "a/+/+/z"], true),
        (["+/x", "$SYS/x"], ["+/x", "$SYS/x"], false),
        (["#", "a/b"], ["#"], false),
    ])
    func subscriptionPlans(_ input: [String], _ expected: [String], _ widened: Bool) {
        let plan = SubscriptionPlan(filters: input)
        #expect(plan.filters == expected)
        #expect(plan.widened == widened)
    }

    @Test func planFiltersNeverOverlap() {
        // Every pair of filters in a plan built from many shapes must be disjoint: checked on sample topics.
        let input = ["a/+/b", "a/c/+", "+/c/b", "a/#", "x/+", "x/y", "y/+/+", "y/z/#"]
        let plan = SubscriptionPlan(filters: input)
        let topics = ["a/c/b", "a/x/b", "a", "x/y", "x/q", "y/z", "y/z/w", "y/z/w/v", "y/q/r", "q/c/b"]
        for topic in topics {
            let matching = plan.filters.filter { filterMatches($0, topic) }
            #expect(matching.count <= 1, "\(topic) delivered by \(matching)")
            if input.contains(where: { filterMatches($0, topic) }) {
                #expect(matching.count == 1, "\(topic) no longer delivered")
            }
        }
    }

    /// MQTT filter matching, written plainly for the test.
    private func filterMatches(_ filter: String, _ topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in f.enumerated() {
            if level == "#" { return true }
            guard index < t.count else { return false }
            if level != "+" && level != t[index] { return false }
        }
        return f.count == t.count
    }
}
