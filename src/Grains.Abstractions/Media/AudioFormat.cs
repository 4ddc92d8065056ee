using System.Runtime.InteropServices;

namespace VoiceActors.Media;

/// <summary>The one audio format of the hot path: PCM16 little-endian mono at 24 kHz (what OpenAI Realtime speaks), 20 ms frames.</summary>
public static class AudioFormat
{
    public const int SampleRate = 24_000;
    public const int FrameMilliseconds = 20;
    public const int SamplesPerFrame = SampleRate * FrameMilliseconds / 1000; // 480
    public const int FrameBytes = SamplesPerFrame * 2; // 960
    public const int BytesPerSecond = SampleRate * 2;

    /// <summary>The largest frame a grain accepts from a direct caller (20 ms at 48 kHz): anything bigger is not a frame.</summary>
    public const int MaxFrameBytes = 1920;

    public static TimeSpan Duration(int bytes) => TimeSpan.FromTicks(bytes * TimeSpan.TicksPerSecond / BytesPerSecond);

    /// <summary>Mean absolute sample value (0..32768): a cheap speech/silence signal, no allocation.</summary>
    public static int MeanAbsoluteLevel(ReadOnlySpan<byte> pcm)
    {
        var samples = MemoryMarshal.Cast<byte, short>(pcm);
        if (samples.Length == 0) return 0;
        long sum = 0;
        foreach (var s in samples) sum += s < 0 ? -(int)s : s;
        return (int)(sum / samples.Length);
    }
}

/// <summary>
/// Energy-based end-of-speech detection: speech is a run of loud frames; the utterance ends after enough quiet frames.
/// Not thread-safe: one owner feeds it frames in order.
/// </summary>
public sealed class SpeechDetector(int levelThreshold, int minSpeechFrames, int endSilenceFrames)
{
    private int _speechFrames;
    private int _silentFrames;

    public bool InSpeech => _speechFrames >= minSpeechFrames;
    public int SpeechFrames => _speechFrames;

    /// <summary>Whether the last frame fed was loud enough to be speech.</summary>
    public bool LastFrameLoud { get; private set; }

    /// <summary>Feeds one frame; returns what changed.</summary>
    public SpeechEdge Feed(ReadOnlySpan<byte> pcm)
    {
        var loud = LastFrameLoud = AudioFormat.MeanAbsoluteLevel(pcm) >= levelThreshold;
        if (loud)
        {
            _silentFrames = 0;
            _speechFrames++;
            return _speechFrames == minSpeechFrames ? SpeechEdge.Started : SpeechEdge.None;
        }
        if (_speechFrames == 0) return SpeechEdge.None;
        if (++_silentFrames < endSilenceFrames) return SpeechEdge.None;
        var wasSpeech = _speechFrames >= minSpeechFrames;
        _speechFrames = 0;
        _silentFrames = 0;
        return wasSpeech ? SpeechEdge.Ended : SpeechEdge.None; // a short click is not an utterance
    }
}

public enum SpeechEdge
{
    None,
    Started,
    Ended,
}
