using System.Net.Http.Json;
using VoiceActors.Tests.Recording;
using VoiceActors.Tests.Sessions;
using VoiceActors.TestSupport;

namespace VoiceActors.Tests.Transcription;

/// <summary>
/// The whole way: spoken English (flite) pushed through the session's media path at real time, recorded (Opus, sealed, the
/// embedded directory store), and, because the provider did not transcribe the candidate, recognized from the recording by
/// PocketSphinx into the stored transcript.
/// </summary>
public sealed class TranscriptFromRecordingTests
{
    [Fact]
    public async Task Speech_through_the_media_path_is_recorded_and_the_stored_transcript_comes_from_the_recording()
    {
        var store = Directory.CreateTempSubdirectory("recordings-");
        try
        {
            await using var system = new EmbeddedSystem()
                .With("Recordings:Directory", store.FullName)
                .With("Recordings:ChunkDuration", "00:00:02")
                .With("Providers:Simulated:TranscribeCandidate", "false") // a Realtime session without input transcription
                .With("PostSession:RedeliveryPeriod", "00:00:01");
            var client = system.ClientFor(EmbeddedSystem.KeyA);
            var id = await RecordingKit.CreateAsync(client, recording: true);
            var media = system.Services.GetRequiredService<IGrainFactory>().GetGrain<IInterviewSessionGrain>(id).Media();

            var speech = (await Speech.Pcm24kAsync("hello my name is john and i am a software engineer")).ToArray();
            await RecordingKit.SpeakAsync(media, [.. Speech.Silence(TimeSpan.FromSeconds(0.5)), .. speech, .. Speech.Silence(TimeSpan.FromSeconds(3))]);
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);

            var transcript = await Eventually.ValueAsync(() => client.GetAsync($"/v1/interviews/{id}/transcript"), r => r.StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(60), r => $"transcript still {r?.StatusCode} 60 s after the end");
            var body = await transcript.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("recording:pocketsphinx", body.GetProperty("source").GetString());
            var candidate = string.Join(' ', body.GetProperty("turns").EnumerateArray()
                .Where(t => t.GetProperty("speaker").GetString() == "Candidate").Select(t => t.GetProperty("text").GetString()));
            foreach (var word in new[] { "name", "john", "software", "engineer" })
                Assert.True(candidate.Split(' ').Contains(word), $"'{word}' is not in the candidate's recognized words '{candidate}'");
            // The provider reported only the agent's side; the transcript has the candidate's words in their place in time.
            var first = body.GetProperty("turns")[0];
            Assert.Equal("Candidate", first.GetProperty("speaker").GetString());
        }
        finally
        {
            store.Delete(recursive: true);
        }
    }
}
