using VoiceActors.LiveKit;

namespace VoiceActors.Recording;

/// <summary>What the post-session work needs of a recording: one channel's audio, decoded and decrypted, from its start.</summary>
public interface IRecordingReader
{
    /// <summary>
    /// Null when there is nothing to read: no consent, no such interview for this tenant, not finished, or erased.
    /// The stream is 24 kHz mono s16le PCM (<c>AudioFormat</c>) from <see cref="RecordedChannel.StartedAt"/>, a lost chunk
    /// filled with silence so times stay aligned; it is read forward once and never held whole in memory.
    /// </summary>
    Task<RecordedChannel?> OpenChannelAsync(string tenantId, string sessionId, ParticipantRole channel, CancellationToken ct = default);
}

/// <summary>One channel of a recording (candidate or agent, each as it was spoken).</summary>
public sealed class RecordedChannel(DateTimeOffset startedAt, Stream pcm) : IAsyncDisposable
{
    public DateTimeOffset StartedAt { get; } = startedAt;

    public Stream Pcm { get; } = pcm;

    public ValueTask DisposeAsync() => Pcm.DisposeAsync();
}
