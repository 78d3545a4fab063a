/// A setting of a command that cannot be used; printed as the command's error.
struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
