import Foundation

/// Why the server cannot start (bad settings, unusable data directory, missing model): one line for the CLI.
public struct ServerError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
