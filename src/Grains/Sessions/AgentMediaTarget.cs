using VoiceActors.Media;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Sessions;

/// <summary>
/// What the room says to the agent, handed to the session as grain calls: candidate audio takes the same path as the media
/// socket's (rate limit, ordering, provider queue), and connection changes reach the grain's turn in order.
/// Called from the connection's own delivery loops, never on the grain's scheduler.
/// </summary>
internal sealed class AgentMediaTarget(ISessionMediaGrain media, ISessionMediaEvents events) : IAgentMediaTarget
{
    public void OnCandidateAudio(AudioFrame frame) => _ = media.PushCandidateAudio(frame); // a local interleaved call: it only queues

    public void OnStateChanged(AgentRoomState state, string reason) => _ = events.OnAgentRoom(state.ToString(), reason);

    public void OnCandidateTrack(string participantIdentity, bool subscribed)
    {
        // Presence comes from LiveKit's webhooks; the track only says when audio starts flowing, which the relay sees itself.
    }
}
