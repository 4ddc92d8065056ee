using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace VoiceActors.Tests.PostSession;

/// <summary>The silo on its embedded defaults (in-memory everything), driven only through the gateway HTTP API.</summary>
public sealed class PostSessionGatewayTests : IClassFixture<PostSessionGatewayTests.EmbeddedSilo>
{
    private readonly EmbeddedSilo _silo;
    private readonly ITestOutputHelper _output;

    public PostSessionGatewayTests(EmbeddedSilo silo, ITestOutputHelper output) => (_silo, _output) = (silo, output);

    public sealed class EmbeddedSilo : WebApplicationFactory<VoiceActors.Silo.Hosting.SiloEntryPoint>
    {
        public int SiloPort { get; } = FreePort.Next();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Orleans:SiloPort", SiloPort.ToString());
            builder.UseSetting("Orleans:GatewayPort", FreePort.Next().ToString());
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:ApiKeys:0:Key"] = "key-acme",
                ["Gateway:ApiKeys:0:Tenant"] = "acme",
                ["Gateway:ApiKeys:1:Key"] = "key-globex",
                ["Gateway:ApiKeys:1:Tenant"] = "globex",
            }));
        }

        public HttpClient ClientFor(string key)
        {
            var client = CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return client;
        }
    }

    [Fact]
    public async Task Completing_an_interview_on_the_embedded_default_shows_its_evaluation_within_seconds()
    {
        var acme = _silo.ClientFor("key-acme");
        Assert.Equal(_silo.SiloPort, _silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.Endpoint.Port); // not the shared default port
        var id = await CreateAsync(acme, ValidRubric);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync($"/v1/interviews/{id}/evaluation")).StatusCode); // not before the end

        var session = _silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IInterviewSessionGrain>(id);
        await session.JoinAsync("cand", ParticipantRole.Candidate);
        await session.JoinAsync("agent", ParticipantRole.Agent);
        var now = DateTimeOffset.UtcNow;
        await session.RecordTurn(new Turn(ParticipantRole.Agent, "Tell me about a project.", now, now.AddSeconds(2)));
        await session.RecordTurn(new Turn(ParticipantRole.Candidate, "I led the billing rewrite because invoices were late.", now.AddSeconds(3), now.AddSeconds(8)));

        var watch = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await acme.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        var response = await Eventually.ValueAsync(() => acme.GetAsync($"/v1/interviews/{id}/evaluation"),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), r => $"evaluation still {r?.StatusCode} after 10 s");
        watch.Stop();
        _output.WriteLine($"complete -> evaluation readable through the gateway: {watch.Elapsed.TotalMilliseconds:0} ms");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"evaluation took {watch.Elapsed}");
        using var evaluation = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Succeeded", evaluation.RootElement.GetProperty("status").GetString());
        Assert.Equal("rubric-coverage", evaluation.RootElement.GetProperty("evaluator").GetString());
        var leadership = evaluation.RootElement.GetProperty("criteria")[0];
        Assert.Equal("Leadership", leadership.GetProperty("criterion").GetString());
        Assert.Equal(5, leadership.GetProperty("score").GetDouble());
        Assert.Equal("I led the billing rewrite because invoices were late.", leadership.GetProperty("evidence")[0].GetString());

        var transcript = await acme.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}/transcript");
        Assert.Equal(2, transcript.GetProperty("turns").GetArrayLength());
        Assert.Equal("Candidate", transcript.GetProperty("turns")[1].GetProperty("speaker").GetString());
        Assert.Equal("provider", transcript.GetProperty("source").GetString()); // the provider transcribed the candidate: its words are kept

        var globex = _silo.ClientFor("key-globex");
        Assert.Equal(HttpStatusCode.NotFound, (await globex.GetAsync($"/v1/interviews/{id}/evaluation")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await globex.GetAsync($"/v1/interviews/{id}/transcript")).StatusCode);

        var timeline = await session.GetTimeline("acme");
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Evaluated);
    }

    [Fact]
    public async Task Evaluation_of_an_unknown_or_malformed_interview_is_a_problem_not_a_crash()
    {
        var acme = _silo.ClientFor("key-acme");
        var unknown = await acme.GetAsync($"/v1/interviews/{SessionIds.New()}/evaluation");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        var malformed = await acme.GetAsync("/v1/interviews/'; drop table evaluations; --/transcript");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _silo.CreateClient().GetAsync($"/v1/interviews/{SessionIds.New()}/evaluation")).StatusCode);
    }

    public static TheoryData<string, string> BadRubrics => new()
    {
        { """{"criteria": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.4}]}""", "rubric.criteria.weight" },
        { """{"criteria": []}""", "rubric.criteria" },
        { """{"criteria": [{"name": "a", "weight": 1.0}], "scaleMax": 0}""", "rubric.scaleMax" },
    };

    [Theory, MemberData(nameof(BadRubrics))]
    public async Task A_rubric_whose_weights_do_not_sum_to_one_or_that_has_no_criteria_is_refused_at_creation(string rubric, string field)
    {
        var acme = _silo.ClientFor("key-acme");
        var body = $$"""{"candidateId": "c-1", "jobId": "j-1", "rubric": {{rubric}} }""";
        var response = await acme.PostAsync("/v1/interviews", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
    }

    private const string ValidRubric = """
        {"criteria": [
            {"name": "Leadership", "description": "Leads work", "weight": 0.6, "keywords": ["led"]},
            {"name": "Reasoning", "description": "Explains why", "weight": 0.4, "keywords": ["because", "therefore"]}
        ], "scaleMax": 5}
        """;

    private static async Task<string> CreateAsync(HttpClient client, string rubric)
    {
        var body = $$$"""
            {"candidateId": "cand-'quoted'", "jobId": "job-1", "rubric": {{{rubric}}},
             "consent": {"recording": true, "transcription": true, "aiEvaluation": true}}
            """;
        var response = await client.PostAsync("/v1/interviews", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
    }
}
