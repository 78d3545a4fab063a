import ArgumentParser
import KappaEvaluation
import KappaGateway

/// Runs `body`, turning the libraries' input errors into ArgumentParser's, so they exit 2 with their message.
func reportingInputErrors<Value>(_ body: () throws -> Value) throws -> Value {
    do {
        return try body()
    } catch let error as SettingsError {
        throw ValidationError(error.description)
    } catch let error as EvaluationInputError {
        throw ValidationError(error.description)
    }
}

/// As ``reportingInputErrors(_:)``, for async work.
func reportingInputErrors<Value>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Value) async throws -> Value {
    do {
        return try await body()
    } catch let error as SettingsError {
        throw ValidationError(error.description)
    } catch let error as EvaluationInputError {
        throw ValidationError(error.description)
    }
}
