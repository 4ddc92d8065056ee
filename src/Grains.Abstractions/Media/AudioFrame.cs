using Orleans.Concurrency;

namespace VoiceActors.Media;

/// <summary>
/// One frame of audio on the hot path: 20 ms of PCM16 little-endian mono by default.
/// <see cref="SentAtUtcTicks"/> is stamped by whoever produced the frame (the client for candidate audio,
/// the provider adapter for provider audio) so each hop can measure the latency it adds.
/// </summary>
// Sent, never stored: implicit ids (the rule: OrleansCodeGeneration.cs).
[GenerateSerializer, Immutable, Alias("va.AudioFrame")]
public readonly record struct AudioFrame(long Sequence, long SentAtUtcTicks, byte[] Pcm);

/// <summary>Where a session sends provider audio and live transcript: the gateway's media socket, an RTC bridge, or a load tester.</summary>
[Alias("va.IAudioSink")]
public interface IAudioSink : IGrainObserver
{
    [OneWay, Alias("OnProviderAudio")]
    Task OnProviderAudio(AudioFrame frame);

    [OneWay, Alias("OnTranscript")]
    Task OnTranscript(Sessions.Turn turn);

    /// <summary>
    /// Barge-in: the candidate started talking over the agent. Agent audio queued here and not yet played is dropped at
    /// once, and so is any frame up to <paramref name="lastSequence"/> that arrives late (one-way calls may overtake each
    /// other). Harmless when nothing is queued; a sink that holds no audio implements it as nothing.
    /// </summary>
    [OneWay, Alias("OnBargeIn")]
    Task OnBargeIn(long lastSequence);
}
