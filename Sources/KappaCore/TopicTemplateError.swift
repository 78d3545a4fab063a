/// Why a topic template string was rejected.
public struct TopicTemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An extensible code; compare against the static members.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let empty = Code(rawValue: "empty")
        public static let missingDevice = Code(rawValue: "missing_device")
        public static let duplicateName = Code(rawValue: "duplicate_name")
        public static let invalidName = Code(rawValue: "invalid_name")
        public static let unbalancedBrace = Code(rawValue: "unbalanced_brace")
        public static let partialLevel = Code(rawValue: "partial_level")
        public static let wildcardCharacter = Code(rawValue: "wildcard_character")
        public static let multiLevelNotLast = Code(rawValue: "multi_level_not_last")
        public static let sharedSubscription = Code(rawValue: "shared_subscription")
        public static let nullCharacter = Code(rawValue: "null_character")
    }

    public var code: Code
    public var template: String
    /// 1-based topic level where the problem is, where there is one.
    public var level: Int?
    public var detail: String

    public init(code: Code, template: String, level: Int? = nil, detail: String) {
        self.code = code
        self.template = template
        self.level = level
        self.detail = detail
    }

    public var description: String {
        if let level {
            return "invalid topic template \"\(template)\" at level \(level): \(detail)"
        }
        return "invalid topic template \"\(template)\": \(detail)"
    }
}
