/// Input the evaluation cannot use (a missing file, a bad line, a bad setting); the message names it.
public struct EvaluationInputError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
