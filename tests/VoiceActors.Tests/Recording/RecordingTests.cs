using System.Net.Http.Headers;
using VoiceActors.PostSession.Persistence;
using VoiceActors.Recording;
using VoiceActors.Tests.Sessions;

namespace VoiceActors.Tests.Recording;

/// <summary>Consented interviews recorded into a real RADOS Gateway during the interview, served back, refused when altered, erased.</summary>
[Collection(RecordingCollection.Name)]
public sealed class RecordingTests(RecordingSystem system, ITestOutputHelper output)
{
    private HttpClient TenantA => system.System.ClientFor(EmbeddedSystem.KeyA);

    private static string Prefix(string tenant, string id) => RecordingVault.Prefix(tenant, id);

    [Fact]
    public async Task A_consented_interview_is_stored_in_chunks_while_it_runs_and_served_as_one_ogg_opus_file_that_gives_back_the_candidate()
    {
        var client = TenantA;
        var id = await RecordingKit.CreateAsync(client, recording: true);
        var media = system.Grains.GetGrain<IInterviewSessionGrain>(id).Media();
        var speech = RecordingKit.Speech(8, seed: 15);
        var seenLive = 0;
        await RecordingKit.SpeakAsync(media, speech, async second =>
        {
            if (second >= 5) seenLive = (await system.Rgw.ListAsync(Prefix("tenant-a", id))).Count(n => n.Contains("/chunk-", StringComparison.Ordinal));
        });
        // 2 s chunks, 8 s into the interview (a contended machine's store may lag a chunk): the first two are stored before it ends.
        Assert.True(seenLive >= 2, $"{seenLive} chunks stored 8 s into a live interview");
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/interviews/{id}/recording")).StatusCode); // not before the end

        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        using var served = await RecordingKit.WaitServedAsync(client, id);
        Assert.Equal("audio/ogg", served.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bytes", served.Headers.AcceptRanges.Single());
        var file = await served.Content.ReadAsByteArrayAsync();

        var (seconds, info) = await RecordingKit.OpusInfoAsync(file);
        output.WriteLine(info);
        Assert.InRange(seconds, 8 - 1, 8 + 1);

        var (candidate, agent) = RecordingKit.Decode(file);
        var (envelope, waveform, lag) = RecordingKit.Correlate(RecordingKit.Samples(speech), candidate);
        output.WriteLine($"candidate channel: envelope r={envelope:0.000}, waveform r={waveform:0.000} at lag {lag} samples; agent peak {agent.Max(s => Math.Abs((int)s))}");
        Assert.True(envelope > 0.9, $"the candidate channel's loudness follows what was said only with r={envelope:0.000}");
        Assert.True(waveform > 0.3, $"the candidate channel's waveform correlates only with r={waveform:0.000}");

        // Byte ranges: a slice is the same bytes; past the end is 416 with a problem body.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/interviews/{id}/recording") { Headers = { Range = new RangeHeaderValue(100, 4195) } };
        using var partial = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes 100-4195/{file.Length}", partial.Content.Headers.ContentRange?.ToString());
        Assert.Equal(file.AsSpan(100, 4096).ToArray(), await partial.Content.ReadAsByteArrayAsync());
        using var suffix = new HttpRequestMessage(HttpMethod.Get, $"/v1/interviews/{id}/recording") { Headers = { Range = new RangeHeaderValue(null, 10) } };
        Assert.Equal(file.AsSpan(file.Length - 10).ToArray(), await (await client.SendAsync(suffix)).Content.ReadAsByteArrayAsync());
        using var beyond = new HttpRequestMessage(HttpMethod.Get, $"/v1/interviews/{id}/recording") { Headers = { Range = new RangeHeaderValue(file.Length, null) } };
        using var refused = await client.SendAsync(beyond);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal($"bytes */{file.Length}", refused.Content.Headers.ContentRange?.ToString());

        // Tenant-scoped: another tenant's recording does not exist for it.
        Assert.Equal(HttpStatusCode.NotFound, (await system.System.ClientFor(EmbeddedSystem.KeyB).GetAsync($"/v1/interviews/{id}/recording")).StatusCode);

        // Every object in the bucket is sealed: no Ogg page, no OpusHead in clear.
        foreach (var name in await system.Rgw.ListAsync(Prefix("tenant-a", id)))
        {
            var stored = await system.Rgw.GetAsync(name);
            Assert.True(stored.AsSpan().IndexOf("OggS"u8) < 0 && stored.AsSpan().IndexOf("OpusHead"u8) < 0, $"{name} holds plaintext");
        }
        var audit = await Audit("tenant-a", id);
        Assert.Contains(audit, e => e.Action == AuditActions.Accessed && e.Detail == "recording" && e.Actor == "api:tenant-a");
    }

    [Fact]
    public async Task Without_consent_nothing_is_written_to_the_bucket_and_the_recording_is_not_found()
    {
        var client = TenantA;
        var id = await RecordingKit.CreateAsync(client, recording: false);
        var media = system.Grains.GetGrain<IInterviewSessionGrain>(id).Media();
        await RecordingKit.SpeakAsync(media, RecordingKit.Speech(5, seed: 1), async second =>
        {
            if (second % 2 == 1) Assert.DoesNotContain(await system.Rgw.ListAsync(), n => n.Contains(id, StringComparison.Ordinal));
        });
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        await Eventually.UntilAsync(async () => (await system.Grains.GetGrain<IInterviewSessionGrain>(id).Get("tenant-a")).PostSessionPending is { Count: 0 },
            TimeSpan.FromSeconds(15), () => "the post-session pipeline did not finish");
        using var response = await client.GetAsync($"/v1/interviews/{id}/recording");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var after = await system.Rgw.ListAsync();
        Assert.DoesNotContain(after, n => n.Contains(id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tampered_chunk_or_manifest_is_refused_with_a_problem_and_audited_and_a_missing_chunk_is_silence()
    {
        var client = TenantA;
        var id = await RecordingKit.CreateAsync(client, recording: true);
        await RecordingKit.SpeakAsync(system.Grains.GetGrain<IInterviewSessionGrain>(id).Media(), RecordingKit.Speech(5, seed: 2));
        await client.PostAsync($"/v1/interviews/{id}/complete", null);
        (await RecordingKit.WaitServedAsync(client, id)).Dispose();

        foreach (var name in new[] { RecordingVault.ChunkName("tenant-a", id, 1), RecordingVault.ManifestName("tenant-a", id), RecordingVault.KeyName("tenant-a", id) })
        {
            var original = await system.Rgw.GetAsync(name);
            var altered = original.ToArray();
            altered[^5] ^= 0x01; // one bit of ciphertext (or of the tag)
            await system.Rgw.PutAsync(name, altered);
            using var response = await client.GetAsync($"/v1/interviews/{id}/recording");
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Recording failed authentication", JsonDocument.Parse(body).RootElement.GetProperty("title").GetString());
            Assert.DoesNotContain("   at ", body, StringComparison.Ordinal); // no stack trace
            Assert.DoesNotContain("OggS", body, StringComparison.Ordinal);
            await system.Rgw.PutAsync(name, original);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/interviews/{id}/recording")).StatusCode); // the original is served again
        }
        var audit = await Audit("tenant-a", id);
        Assert.Equal(3, audit.Count(e => e.Action == AuditActions.RecordingRefused));

        // A chunk gone from the store: the file is still whole, its 2 s silence.
        await system.Rgw.Client.DeleteObjectAsync(RadosGateway.Bucket, RecordingVault.ChunkName("tenant-a", id, 1));
        using var served = await client.GetAsync($"/v1/interviews/{id}/recording");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var file = await served.Content.ReadAsByteArrayAsync();
        var (seconds, _) = await RecordingKit.OpusInfoAsync(file);
        Assert.InRange(seconds, 4, 6);
        var (candidate, _) = RecordingKit.Decode(file);
        var hole = candidate.AsSpan(2 * 24_000 + 2400, 24_000 * 2 - 4800).ToArray(); // chunk 1 is 2-4 s, less its edges
        Assert.True(hole.Max(s => Math.Abs((int)s)) < 300, "the missing chunk is silence");
    }

    [Fact]
    public async Task At_the_retention_deadline_the_objects_and_the_wrapped_key_are_deleted_and_audited()
    {
        var client = system.System.ClientFor(RecordingSystem.KeyC);
        // Transcription off: retention waits for every post-session consumer, and the transcript would wait for PocketSphinx to
        // get through the other tests' recordings first (one recognition per silo): on a loaded machine, past this test's 20 s.
        var id = await RecordingKit.CreateAsync(client, recording: true, transcription: false);
        await RecordingKit.SpeakAsync(system.Grains.GetGrain<IInterviewSessionGrain>(id).Media(), RecordingKit.Speech(3, seed: 3));
        await client.PostAsync($"/v1/interviews/{id}/complete", null);
        (await RecordingKit.WaitServedAsync(client, id)).Dispose();
        var stored = await system.Rgw.ListAsync(Prefix("tenant-c", id));
        Assert.Contains(RecordingVault.KeyName("tenant-c", id), stored);
        Assert.Contains(RecordingVault.ManifestName("tenant-c", id), stored);

        await Eventually.UntilAsync(async () => (await system.Rgw.ListAsync(Prefix("tenant-c", id))).Count == 0, TimeSpan.FromSeconds(20),
            () => "the recording's objects outlived retention");
        Assert.DoesNotContain(await system.Rgw.ListAsync(), n => n.Contains(id, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/interviews/{id}/recording")).StatusCode);
        var deleted = await Eventually.ValueAsync(() => Audit("tenant-c", id), a => a.Any(e => e.Action == AuditActions.RetentionDeleted),
            TimeSpan.FromSeconds(10), _ => "no retention audit entry");
        var entry = deleted.Single(e => e.Action == AuditActions.RetentionDeleted);
        Assert.Contains($"recording: {stored.Count} objects deleted, the wrapped data key first", entry.Detail);
    }

    private Task<IReadOnlyList<AuditEntry>> Audit(string tenant, string id) =>
        system.System.Services.GetRequiredService<IPostSessionRepository>().GetAuditAsync(tenant, id);
}
