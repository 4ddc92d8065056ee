using System.Buffers.Binary;
using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;
using OpenAI.Audio;
using VoiceActors.Media;

namespace VoiceActors.PostSession.Transcription;

/// <summary>
/// OpenAI's hosted transcription (<c>POST /v1/audio/transcriptions</c>) through the official <c>OpenAI</c> package. The
/// channel is sent as WAV pieces of at most <see cref="OpenAiTranscriptionOptions.MaxRequestAudio"/> (the API takes 25 MB),
/// each cut at its quietest frame near the end so no word is split, and a piece that is all silence is not sent at all.
/// </summary>
public sealed class OpenAiTranscriptionRecognizer : ISpeechRecognizer
{
    private const int SilenceLevel = 200; // mean absolute PCM16 below which a frame is quiet (about -44 dBFS)
    private static readonly TimeSpan CutSearch = TimeSpan.FromSeconds(10);

    private readonly AudioClient _client;
    private readonly OpenAiTranscriptionOptions _options;

    public OpenAiTranscriptionRecognizer(OpenAiTranscriptionOptions options)
    {
        _options = options;
        _client = new AudioClient(options.Model, new ApiKeyCredential(options.ApiKey ?? "unset"), new OpenAIClientOptions
        {
            Endpoint = options.Endpoint,
            NetworkTimeout = options.Timeout,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 2),
        });
    }

    public string Name => $"openai:{_options.Model}";

    public async Task<IReadOnlyList<RecognizedSpeech>> RecognizeAsync(Stream pcm, CancellationToken ct = default)
    {
        var frame = AudioFormat.FrameBytes;
        var window = (int)(_options.MaxRequestAudio.Ticks / AudioFormat.Duration(frame).Ticks) * frame;
        var buffer = new byte[window];
        var segments = new List<RecognizedSpeech>();
        var filled = 0;
        var offset = TimeSpan.Zero;
        while (true)
        {
            var read = await pcm.ReadAtLeastAsync(buffer.AsMemory(filled), buffer.Length - filled, throwOnEndOfStream: false, ct);
            filled += read;
            var end = filled < buffer.Length;
            var cut = end ? filled - filled % 2 : QuietestCut(buffer, frame);
            if (cut > 0 && !IsSilent(buffer.AsSpan(0, cut), frame))
                segments.AddRange(await TranscribeAsync(buffer.AsMemory(0, cut), offset, ct));
            if (end) return segments;
            offset += AudioFormat.Duration(cut);
            buffer.AsSpan(cut, filled - cut).CopyTo(buffer); // the tail after the cut starts the next piece
            filled -= cut;
        }
    }

    private async Task<IEnumerable<RecognizedSpeech>> TranscribeAsync(ReadOnlyMemory<byte> pcm, TimeSpan offset, CancellationToken ct)
    {
        await using var wav = Wav(pcm);
        var request = new AudioTranscriptionOptions
        {
            ResponseFormat = AudioTranscriptionFormat.Verbose,
            TimestampGranularities = AudioTimestampGranularities.Segment,
            Language = _options.Language,
        };
        AudioTranscription result;
        try
        {
            result = (await _client.TranscribeAudioAsync(wav, "channel.wav", request, ct)).Value;
        }
        catch (ClientResultException e)
        {
            throw new SpeechRecognitionException(Name, $"the transcription request was refused ({e.Status})", e);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw new SpeechRecognitionException(Name, $"the transcription service did not answer ({e.GetType().Name})", e);
        }
        if (result.Segments.Count == 0)
            return string.IsNullOrWhiteSpace(result.Text) ? [] : [new RecognizedSpeech(offset, offset + AudioFormat.Duration(pcm.Length), result.Text.Trim())];
        return result.Segments.Where(s => !string.IsNullOrWhiteSpace(s.Text))
            .Select(s => new RecognizedSpeech(offset + s.StartTime, offset + s.EndTime, s.Text.Trim()));
    }

    /// <summary>The frame boundary after the quietest frame in the last <see cref="CutSearch"/> of a full window.</summary>
    internal static int QuietestCut(ReadOnlySpan<byte> window, int frame)
    {
        var frames = window.Length / frame;
        var search = Math.Min(frames, (int)(CutSearch.Ticks / AudioFormat.Duration(frame).Ticks));
        var best = frames;
        var bestLevel = long.MaxValue;
        for (var f = frames - 1; f >= frames - search; f--)
        {
            var level = Level(window.Slice(f * frame, frame));
            if (level < bestLevel) (best, bestLevel) = (f + 1, level);
        }
        return best * frame;
    }

    private static bool IsSilent(ReadOnlySpan<byte> pcm, int frame)
    {
        for (var i = 0; i + frame <= pcm.Length; i += frame)
            if (Level(pcm.Slice(i, frame)) >= SilenceLevel) return false;
        return true;
    }

    private static long Level(ReadOnlySpan<byte> frame)
    {
        long sum = 0;
        for (var i = 0; i + 1 < frame.Length; i += 2) sum += Math.Abs((int)BinaryPrimitives.ReadInt16LittleEndian(frame[i..]));
        return sum / Math.Max(1, frame.Length / 2);
    }

    /// <summary>A canonical 44-byte RIFF/WAVE header before the PCM: 24 kHz, mono, 16-bit.</summary>
    internal static MemoryStream Wav(ReadOnlyMemory<byte> pcm)
    {
        var wav = new MemoryStream(44 + pcm.Length);
        Span<byte> h = stackalloc byte[44];
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], 36 + pcm.Length);
        "WAVEfmt "u8.CopyTo(h[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], 16);
        BinaryPrimitives.WriteInt16LittleEndian(h[20..], 1); // PCM
        BinaryPrimitives.WriteInt16LittleEndian(h[22..], 1); // mono
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], AudioFormat.SampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], AudioFormat.SampleRate * 2);
        BinaryPrimitives.WriteInt16LittleEndian(h[32..], 2);
        BinaryPrimitives.WriteInt16LittleEndian(h[34..], 16);
        "data"u8.CopyTo(h[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(h[40..], pcm.Length);
        wav.Write(h);
        wav.Write(pcm.Span);
        wav.Position = 0;
        return wav;
    }
}
