import PersonaKit

@testable import PersonaApp

/// Test shorthand for the events the engine sends a pane: turn `serial` of persona `personaID`.
enum Turns {
    static let model = ModelRef(provider: "openai", model: "gpt-4o-mini")

    static func id(_ personaID: String, serial: Int = 1, round: Int = 1, estimate: Int = 0) -> TurnID {
        TurnID(serial: serial, personaID: personaID, personaName: personaID, round: round, estimatedInputTokens: estimate, model: model)
    }

    /// The turn's first event: a new answer streams into the pane, its input estimated at `estimate`.
    static func started(_ personaID: String, serial: Int = 1, round: Int = 1, estimate: Int = 0) -> AppEvent {
        .turn(TurnEvent(id(personaID, serial: serial, round: round, estimate: estimate), .started))
    }

    static func event(_ personaID: String, serial: Int = 1, _ kind: TurnEvent.Kind) -> AppEvent {
        .turn(TurnEvent(id(personaID, serial: serial), kind))
    }
}
