using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Providers;

/// <summary>An AI voice provider (OpenAI Realtime, Grok, the simulator): opens one live conversation per session.</summary>
public interface IVoiceProvider
{
    /// <summary>The name sessions use to pick it (<see cref="ProviderSettings.Name"/>, <see cref="ProviderSettings.Secondary"/>).</summary>
    string Name { get; }

    /// <summary>The provider's session cap and what a fresh session carries over: the link rotates sessions before the cap.</summary>
    ProviderSessionOptions Session { get; }

    /// <summary>
    /// Connects, configures the session and replays <see cref="ProviderConnectRequest.Conversation"/> so a reconnect or a
    /// failover carries on where the interview was. Throws <see cref="ProviderException"/> when the provider cannot be reached.
    /// </summary>
    Task<IVoiceConnection> ConnectAsync(ProviderConnectRequest request, IVoiceEvents events, CancellationToken cancellationToken);
}

/// <summary>
/// What a connection needs: the session's settings, the conversation to replay word for word, and which attempt this is
/// (1-based, per provider). <paramref name="Context"/>, when set, goes in first as one system message: the note that this
/// continues an interview under way and the older turns condensed (<paramref name="CondensedTurns"/> of them).
/// <paramref name="AnswerOwed"/>: the conversation ends with the candidate and no answer of the agent was ever completed (the
/// previous connection, or the silo holding it, was lost while the answer was awaited or being spoken), so the provider is asked
/// to answer at once after the replay, as it would have; otherwise it waits for the candidate's next utterance like any turn.
/// </summary>
public sealed record ProviderConnectRequest(string SessionId, ProviderSettings Settings, IReadOnlyList<Turn> Conversation, int Attempt = 1,
    string? Context = null, int CondensedTurns = 0, bool AnswerOwed = false);

/// <summary>One live provider conversation. Sending never blocks: the connection owns a bounded queue and a send pump.</summary>
public interface IVoiceConnection : IAsyncDisposable
{
    string Provider { get; }

    /// <summary>Queues candidate audio; false when the backlog is full and the oldest queued frame was dropped for it.</summary>
    bool TrySendAudio(AudioFrame frame);

    /// <summary>The candidate barged in: stop the response in progress. Reached through <see cref="ProviderLink.Interrupt"/>.</summary>
    void Interrupt();

    /// <summary>Completes when the connection ends: faulted with a <see cref="ProviderException"/> when it was lost.</summary>
    Task Completion { get; }

    /// <summary>Aborts the connection as failed (a stall or too many errors); <see cref="Completion"/> faults with the reason.</summary>
    void Abort(string reason);
}

/// <summary>
/// What a provider conversation reports: the connection's own events (audio, transcripts, error events, candidate audio
/// handed over) and the <see cref="ProviderLink"/>'s connection lifecycle (connected, failed, failed over), which a
/// connection never raises. Called on the connection's and the link's own threads: implementations must not block.
/// </summary>
public interface IVoiceEvents
{
    /// <summary>Provider audio, already cut into frames; <see cref="AudioFrame.SentAtUtcTicks"/> is when it was received.</summary>
    void OnProviderAudio(AudioFrame frame);

    /// <summary>A finished utterance of either speaker, from the provider's transcription events.</summary>
    void OnTranscript(Turn turn);

    /// <summary>
    /// The provider's voice activity detection heard the candidate start speaking (OpenAI Realtime
    /// <c>input_audio_buffer.speech_started</c>; the simulator's speech onset). Raised at every onset, whether or not the
    /// agent is speaking: the relay decides whether it is a barge-in.
    /// </summary>
    void OnCandidateSpeechStarted(string provider);

    /// <summary>A non-fatal error event from the provider (the connection stays open).</summary>
    void OnProviderError(string provider, string code, string message);

    /// <summary>A candidate frame was handed to the provider at <paramref name="handedOffUtcTicks"/> (the inbound latency ends here).</summary>
    void OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks);

    /// <summary>The link connected (attempt is 1-based, per provider) and replayed that many turns of the conversation.</summary>
    void OnProviderConnected(string provider, int attempt, int replayedTurns);

    /// <summary>A connect failed or a live connection was lost, stalled or aborted.</summary>
    void OnProviderFailed(string provider, string reason, int consecutiveFailures);

    /// <summary>The link switched to the other provider of the session.</summary>
    void OnProviderFailover(string from, string to, string reason);

    /// <summary>
    /// The link moved the conversation to a fresh session of the same provider: <paramref name="reason"/> is
    /// <see cref="ProviderRotation.Planned"/> (before the session cap, at a turn boundary) or <see cref="ProviderRotation.Expired"/>
    /// (the provider ended the session at its cap). Neither is a failure.
    /// </summary>
    void OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns);
}

/// <summary>A provider could not be reached or dropped the conversation.</summary>
public sealed class ProviderException(string provider, string message, Exception? inner = null)
    : Exception($"{provider}: {message}", inner)
{
    public string Provider { get; } = provider;

    /// <summary>The provider ended the session at its duration cap (OpenAI: <c>session_expired</c>): rotated, not counted as a failure.</summary>
    public bool SessionExpired { get; init; }
}

/// <summary>The providers this silo knows, by name.</summary>
public sealed class VoiceProviderRegistry(IEnumerable<IVoiceProvider> providers)
{
    private readonly Dictionary<string, IVoiceProvider> _byName = providers.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public bool Contains(string? name) => name is not null && _byName.ContainsKey(name);

    public IVoiceProvider Get(string name) =>
        _byName.TryGetValue(name, out var provider)
            ? provider
            : throw new ProviderException(name, $"no such voice provider; known: {string.Join(", ", _byName.Keys)}");
}
