import Foundation

/// Runs a short command to completion: its exit status and its output (standard output and error together).
///
/// The output goes to a temporary file, not a pipe. A pipe reports its end only once every copy of its write
/// end is closed, and a server another test spawns at that moment inherits a copy and keeps it for its whole
/// life: reading the pipe to its end then never returned (a fresh-clone CI run hung with `postgres` holding
/// the pipe of another test's command). A file has no end to wait for. Blocks: call it off the cooperative pool.
func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let path = NSTemporaryDirectory() + "kappa-command-\(UUID().uuidString).out"
    guard FileManager.default.createFile(atPath: path, contents: nil), let sink = FileHandle(forWritingAtPath: path) else {
        throw TestEnvironmentError.commandFailed(command: ([executable] + arguments).joined(separator: " "), output: "cannot create \(path)")
    }
    defer {
        try? sink.close()
        try? FileManager.default.removeItem(atPath: path)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = sink
    process.standardError = sink
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let output = FileManager.default.contents(atPath: path) ?? Data()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
