using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VoiceActors.PostSession.Transcription;
using VoiceActors.TestSupport;

namespace VoiceActors.Tests.Transcription;

/// <summary>
/// Both recognizers on real speech (Debian flite): PocketSphinx run as the program it is, and OpenAI's transcription API
/// through the official package against a local server that speaks its HTTP API and recognizes what it is sent with
/// PocketSphinx, so the words only come back if the audio went out right.
/// </summary>
public sealed class SpeechRecognizerTests
{
    private const string First = "hello my name is john and i am a software engineer";
    private const string Second = "i built a distributed database";

    [Fact]
    public async Task PocketSphinx_finds_each_utterance_with_its_words_and_when_it_was_said()
    {
        var pcm = Concat(Speech.Silence(TimeSpan.FromSeconds(1)), await Speech.Pcm24kAsync(First), Speech.Silence(TimeSpan.FromSeconds(3)),
            await Speech.Pcm24kAsync(Second), Speech.Silence(TimeSpan.FromSeconds(1)));
        var secondAt = TimeSpan.FromSeconds(1 + 3) + Duration((await Speech.Pcm24kAsync(First)).Length);

        var segments = await new PocketSphinxRecognizer(new PocketSphinxOptions()).RecognizeAsync(new MemoryStream(pcm));

        Assert.Equal(2, segments.Count);
        AssertWords(segments[0].Text, "name", "john", "software", "engineer");
        AssertWords(segments[1].Text, "distributed", "database"); // "built" comes back as "build" or "gilded" depending on what precedes it
        Assert.InRange(segments[0].Start.TotalSeconds, 0.9, 1.5);
        Assert.InRange((segments[1].Start - secondAt).TotalSeconds, -0.2, 0.5);
        Assert.True(segments[0].End < segments[1].Start);
    }

    [Fact]
    public async Task PocketSphinx_hears_nothing_in_silence()
    {
        var segments = await new PocketSphinxRecognizer(new PocketSphinxOptions()).RecognizeAsync(new MemoryStream(Speech.Silence(TimeSpan.FromSeconds(3))));
        Assert.Empty(segments);
    }

    [Fact]
    public async Task A_missing_PocketSphinx_is_a_clear_error_naming_what_to_install()
    {
        var recognizer = new PocketSphinxRecognizer(new PocketSphinxOptions { Executable = "pocketsphinx-that-is-not-installed" });
        var e = await Assert.ThrowsAsync<SpeechRecognitionException>(() => recognizer.RecognizeAsync(new MemoryStream(Speech.Silence(TimeSpan.FromSeconds(1)))));
        Assert.Contains("install Debian's pocketsphinx", e.Message);
    }

    [Fact]
    public async Task OpenAI_transcription_sends_wav_pieces_skips_silent_ones_and_places_segments_on_the_channels_clock()
    {
        await using var server = await TranscriptionServer.StartAsync();
        // 0–1 s quiet, the first sentence, quiet up to 65 s, the second sentence: with 30 s pieces the middle one is all
        // silence and is never sent.
        var first = await Speech.Pcm24kAsync(First);
        var second = await Speech.Pcm24kAsync(Second);
        var secondAt = TimeSpan.FromSeconds(65);
        var pcm = Concat(Speech.Silence(TimeSpan.FromSeconds(1)), first, Speech.Silence(secondAt - TimeSpan.FromSeconds(1) - Duration(first.Length)), second,
            Speech.Silence(TimeSpan.FromSeconds(1)));
        var recognizer = new OpenAiTranscriptionRecognizer(new OpenAiTranscriptionOptions
        {
            Endpoint = new Uri(server.BaseUri, "v1"), ApiKey = "sk-test-key", Model = "whisper-1", Language = "en", MaxRequestAudio = TimeSpan.FromSeconds(30),
        });

        var segments = await recognizer.RecognizeAsync(new MemoryStream(pcm));

        Assert.Equal("openai:whisper-1", recognizer.Name);
        Assert.Equal(2, server.Requests.Count);
        foreach (var r in server.Requests)
        {
            Assert.Equal("/v1/audio/transcriptions", r.Path);
            Assert.Equal("Bearer sk-test-key", r.Authorization);
            Assert.Equal("whisper-1", r.Model);
            Assert.Equal("verbose_json", r.Format);
            Assert.Equal("segment", r.Granularity);
            Assert.Equal("en", r.Language);
            Assert.InRange(r.AudioSeconds, 1, 30.001);
        }
        Assert.Equal(2, segments.Count);
        AssertWords(segments[0].Text, "name", "john", "software", "engineer");
        AssertWords(segments[1].Text, "distributed", "database"); // "built" comes back as "build" or "gilded" depending on what precedes it
        Assert.InRange(segments[0].Start.TotalSeconds, 0.9, 1.5);
        Assert.InRange((segments[1].Start - secondAt).TotalSeconds, -0.2, 0.5); // the third piece's offset was added
    }

    [Fact]
    public async Task A_refused_transcription_request_is_a_recognition_error_and_the_key_is_not_in_it()
    {
        await using var server = await TranscriptionServer.StartAsync(status: 401);
        var recognizer = new OpenAiTranscriptionRecognizer(new OpenAiTranscriptionOptions { Endpoint = new Uri(server.BaseUri, "v1"), ApiKey = "sk-secret-value" });
        var e = await Assert.ThrowsAsync<SpeechRecognitionException>(async () => await recognizer.RecognizeAsync(new MemoryStream(await Speech.Pcm24kAsync(Second))));
        Assert.Contains("refused (401)", e.Message);
        Assert.DoesNotContain("sk-secret-value", e.ToString());
    }

    private static void AssertWords(string text, params string[] words)
    {
        foreach (var w in words) Assert.True(text.Split(' ').Contains(w), $"'{w}' is not in '{text}'");
    }

    private static TimeSpan Duration(int bytes) => TimeSpan.FromSeconds(bytes / 2.0 / Speech.SampleRate);

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary><c>POST /v1/audio/transcriptions</c> as OpenAI answers it in <c>verbose_json</c>, the words from PocketSphinx.</summary>
    private sealed class TranscriptionServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private TranscriptionServer(WebApplication app, Uri baseUri) => (_app, BaseUri) = (app, baseUri);

        public Uri BaseUri { get; }

        public ConcurrentQueue<Request> Requests { get; } = new();

        public sealed record Request(string Path, string? Authorization, string? Model, string? Format, string? Granularity, string? Language, double AudioSeconds);

        public static async Task<TranscriptionServer> StartAsync(int status = 200)
        {
            var port = FreePort.Next();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var server = new TranscriptionServer(app, new Uri($"http://127.0.0.1:{port}/"));
            app.Run(async context =>
            {
                if (status != 200)
                {
                    context.Response.StatusCode = status;
                    await context.Response.WriteAsJsonAsync(new { error = new { message = "Incorrect API key provided", type = "invalid_request_error", code = "invalid_api_key" } });
                    return;
                }
                var form = await context.Request.ReadFormAsync();
                var file = form.Files["file"]!;
                using var wav = new MemoryStream();
                await file.CopyToAsync(wav);
                var bytes = wav.ToArray();
                Assert.Equal("RIFF", System.Text.Encoding.ASCII.GetString(bytes, 0, 4));
                Assert.Equal(24_000, BitConverter.ToInt32(bytes, 24));
                Assert.Equal(1, BitConverter.ToInt16(bytes, 22));
                var pcm = bytes.AsMemory(44);
                server.Requests.Enqueue(new Request(context.Request.Path, context.Request.Headers.Authorization, form["model"], form["response_format"],
                    form["timestamp_granularities[]"], form["language"], pcm.Length / 2.0 / Speech.SampleRate));
                var heard = await new PocketSphinxRecognizer(new PocketSphinxOptions()).RecognizeAsync(new MemoryStream(pcm.ToArray()));
                await context.Response.WriteAsync(JsonSerializer.Serialize(new
                {
                    task = "transcribe",
                    language = "english",
                    duration = pcm.Length / 2.0 / Speech.SampleRate,
                    text = string.Join(" ", heard.Select(h => h.Text)),
                    segments = heard.Select((h, i) => new
                    {
                        id = i, seek = 0, start = h.Start.TotalSeconds, end = h.End.TotalSeconds, text = " " + h.Text, tokens = Array.Empty<int>(),
                        temperature = 0.0, avg_logprob = -0.2, compression_ratio = 1.2, no_speech_prob = 0.01,
                    }),
                }));
            });
            await app.StartAsync();
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync(TimeSpan.FromSeconds(2));
            await _app.DisposeAsync();
        }
    }
}
