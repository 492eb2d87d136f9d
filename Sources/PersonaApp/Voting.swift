import Foundation
import PersonaKit
import TerminalUI

/// Blind mode and votes on the chat screen (`/blind`, `/vote`, `/unvote`, Alt-1…9).
extension ChatReducer {
    /// Opens the vote on a parallel prompt's answers, given the panes that will answer. In blind
    /// mode their places are shuffled (never into the order they had) and they are hidden behind
    /// their labels until the vote.
    static func openBallot(_ prompt: String, answering: [Int], state: inout AppState) {
        guard state.mode == .parallel else {
            state.ballot = nil
            return
        }
        let blind = state.blind && answering.count >= 2
        if blind {
            let personas = answering.map { state.panes[$0].personaID }
            var shuffled = answering
            while shuffled.map({ state.panes[$0].personaID }) == personas { shuffled.shuffle(using: &state.shuffler) }
            let moved = shuffled.map { state.panes[$0] }
            for (place, pane) in zip(answering, moved) { state.panes[place] = pane }
        }
        for index in state.panes.indices {
            state.panes[index].ballotLabel = nil
            state.panes[index].hidden = false
            state.panes[index].shownFrom = 0
            state.panes[index].showsLabel = false
        }
        for (position, index) in answering.enumerated() {
            state.panes[index].ballotLabel = CouncilBallot.label(at: position)
            state.panes[index].hidden = blind
            state.panes[index].showsLabel = blind
            // A hidden pane shows only this prompt's exchange, and no figures of the last answer
            // until its turn begins: its earlier answers would name it.
            if blind {
                state.panes[index].shownFrom = state.panes[index].entries.last(where: { $0.role == .user })?.id ?? 0
                state.panes[index].phase = .idle
                state.panes[index].counters = TurnCounters()
            }
        }
        state.ballot = Ballot(turn: state.round + 1, promptHash: SHA256.hex(Array(prompt.utf8)), blind: blind)
    }

    /// `/blind`: on, the next prompt's answers come under labels; off, everything shows again.
    static func toggleBlind(_ state: inout AppState) {
        if state.blind {
            state.blind = false
            reveal(&state)
            state.notice = "Blind mode is off: names, models and costs show again."
            return
        }
        guard state.mode == .parallel else {
            state.notice = "Blind mode needs parallel mode, where every persona answers the same prompt: /mode parallel first."
            return
        }
        enterBlind(&state)
        state.notice = "Blind mode: your next prompt's answers come as A, B, C…, in a new order each time. Vote with /vote B "
            + "(or B>A>C, tie, skip) or Alt-1…9; the names show after the vote."
    }

    /// Blind mode from now on: until the next prompt shuffles them, the member panes show their
    /// places' labels only, and none of what they said before.
    static func enterBlind(_ state: inout AppState) {
        state.blind = true
        state.ballot = nil
        let members = Set(state.memberPanes.map(\.personaID))
        var position = 0
        for index in state.panes.indices where members.contains(state.panes[index].personaID) {
            state.panes[index].ballotLabel = CouncilBallot.label(at: position)
            state.panes[index].hidden = true
            state.panes[index].showsLabel = true
            state.panes[index].shownFrom = state.nextEntryID
            position += 1
        }
    }

    /// Whether the screen is hiding who answered; what would tell waits for the vote.
    static func refusesWhileHidden(_ what: String, state: inout AppState) -> Bool {
        guard state.panes.contains(where: \.hidden) else { return false }
        state.notice = "\(what) would show who is who: vote first (/vote, Alt-1…9 or /vote skip), or end blind mode with /blind."
        return true
    }

    /// The candidates of the open ballot: its panes, in their places, that answered.
    private static func candidates(_ state: AppState) -> [PaneState] {
        state.panes.filter { pane in
            guard pane.ballotLabel != nil, pane.phase == .done || pane.phase == .refused,
                  let last = pane.entries.last, last.role == .assistant else { return false }
            return true
        }
    }

    /// `/vote ARGUMENT`: a label (`B`), an order (`B>A>C`, `A=B` ties), `tie` or `skip`. Outside
    /// blind mode a persona's name may stand for its label.
    static func vote(_ argument: String, state: inout AppState) -> [AppEffect] {
        let usage = "Usage: /vote B, /vote B>A>C, /vote tie or /vote skip (or Alt-1…9)"
        guard let ballot = state.ballot, state.panes.contains(where: { $0.ballotLabel != nil }) else {
            state.notice = "Nothing to vote on: votes are on the answers to a prompt in parallel mode. " + usage
            return []
        }
        // A pane whose turn has not begun yet shows the prompt last.
        let waiting = state.panes.contains { $0.ballotLabel != nil && ($0.isActive || state.conversing && $0.entries.last?.role == .user) }
        guard !waiting else {
            state.notice = "Still answering: a vote waits until every pane has finished or failed."
            return []
        }
        guard !ballot.voted else {
            state.notice = "You voted on these answers already; /unvote withdraws it."
            return []
        }
        let candidates = candidates(state)
        let labels = candidates.compactMap(\.ballotLabel)
        let word = argument.trimmingCharacters(in: .whitespaces)
        if word.lowercased() == "skip" {
            state.ballot?.voted = true
            reveal(&state)
            state.notice = "Skipped: nothing stored. " + revealed(candidates)
            return []
        }
        guard candidates.count >= 2 else {
            state.notice = candidates.isEmpty ? "No answer finished, so there is nothing to vote on; /vote skip goes on."
                : "Only \(labels[0]) finished: a vote needs two answers. /vote skip goes on."
            return []
        }
        var order: [[String]]
        if word.lowercased() == "tie" {
            order = [labels]
        } else {
            guard !word.isEmpty else {
                state.notice = usage
                return []
            }
            order = []
            var seen = Set<String>()
            for rank in word.split(separator: ">", omittingEmptySubsequences: false) {
                var tied: [String] = []
                for token in rank.split(separator: "=", omittingEmptySubsequences: false) {
                    let name = token.trimmingCharacters(in: .whitespaces)
                    guard let label = label(for: name, candidates: candidates, state: state) else {
                        let known = state.panes.first { $0.ballotLabel?.caseInsensitiveCompare(name) == .orderedSame }
                        state.notice = known != nil ? "\(name.uppercased()) did not finish an answer, so it takes no part. Nothing was stored."
                            : "/vote: \(name.isEmpty ? "an empty place" : "'\(name)'") is no answer here; the answers are \(labels.joined(separator: ", ")). Nothing was stored."
                        return []
                    }
                    guard seen.insert(label).inserted else {
                        state.notice = "/vote: \(label) is named twice. Nothing was stored."
                        return []
                    }
                    tied.append(label)
                }
                order.append(tied)
            }
        }
        let blind = candidates.allSatisfy(\.hidden)
        let vote = Vote(time: Date(), source: .votes, blind: blind, session: state.session, turn: ballot.turn, round: 1,
                        promptHash: ballot.promptHash, candidates: candidates.enumerated().map { position, pane in
                            VoteCandidate(label: pane.ballotLabel ?? "", position: position, persona: pane.personaID,
                                          provider: pane.displayedModel.provider, model: pane.displayedModel.model,
                                          costPicos: pane.costPicos, outputTokens: pane.counters.outputTokens, answer: pane.answerID)
                        }, order: order)
        state.ballot?.voted = true
        reveal(&state)
        state.notice = "Voted \(vote.orderText)\(blind ? "" : " (not blind)"). " + revealed(candidates)
        return [.recordVote(vote)]
    }

    /// Alt-1…9: the answer at that place is the best.
    static func vote(place: Int, state: inout AppState) -> [AppEffect] {
        let labelled = state.panes.filter { $0.ballotLabel != nil }
        guard labelled.indices.contains(place - 1), let label = labelled[place - 1].ballotLabel else {
            state.notice = labelled.isEmpty ? "Nothing to vote on yet." : "There is no answer at place \(place); Alt-1…\(labelled.count) vote."
            return []
        }
        return vote(label, state: &state)
    }

    /// `/unvote`: the last vote is withdrawn, and these answers can be voted on again (not blind now).
    static func unvote(_ state: inout AppState) -> [AppEffect] {
        state.ballot?.voted = false
        return [.withdrawVote]
    }

    private static func label(for name: String, candidates: [PaneState], state: AppState) -> String? {
        if let pane = candidates.first(where: { $0.ballotLabel?.caseInsensitiveCompare(name) == .orderedSame }) { return pane.ballotLabel }
        guard !state.blind, !name.isEmpty else { return nil }
        return candidates.first { PersonaHandle.matches(name, id: $0.personaID, name: $0.name) }?.ballotLabel
    }

    private static func reveal(_ state: inout AppState) {
        for index in state.panes.indices {
            state.panes[index].hidden = false
            state.panes[index].shownFrom = 0
        }
    }

    private static func revealed(_ candidates: [PaneState]) -> String {
        candidates.map { "\($0.ballotLabel ?? "?") was \($0.name) (\($0.displayedModel))" }.joined(separator: ", ") + "."
    }

    /// A notice with the hidden panes' names and models put as their labels, for the screen.
    static func masked(_ text: String, _ state: AppState) -> String {
        var text = text
        for pane in state.panes where pane.hidden {
            let label = "answer " + (pane.ballotLabel ?? "?")
            for secret in [pane.name, pane.personaID, pane.displayedModel.description, pane.displayedModel.model] where !secret.isEmpty {
                text = text.replacingOccurrences(of: secret, with: label, options: .caseInsensitive)
            }
        }
        return text
    }
}
