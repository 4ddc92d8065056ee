using System.Net.Http.Json;
using System.Text;

namespace VoiceActors.Tests.Gateway;

public sealed class InterviewsApiTests(EmbeddedSystem system) : IClassFixture<EmbeddedSystem>
{
    private readonly HttpClient _a = system.ClientFor(EmbeddedSystem.KeyA);
    private readonly HttpClient _b = system.ClientFor(EmbeddedSystem.KeyB);

    private int LiveSessions => system.Services.GetRequiredService<SiloSessionLoad>().ActiveSessions;

    private async Task<string> CreateAsync(HttpClient client)
    {
        var response = await client.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-1", jobId = "job-1" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("sessionId").GetString()!;
    }

    [Fact]
    public async Task Create_then_read_returns_the_session_in_its_state()
    {
        var response = await _a.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-7", jobId = "job-3", consent = new { transcription = true } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("sessionId").GetString()!;
        Assert.Equal($"/v1/interviews/{id}", response.Headers.Location?.ToString());
        Assert.Equal("WaitingForParticipants", created.GetProperty("state").GetString());
        Assert.Equal($"interview-{id}", created.GetProperty("livekit").GetProperty("room").GetString());

        var read = await _a.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");
        Assert.Equal("cand-7", read.GetProperty("candidateId").GetString());
        Assert.True(read.GetProperty("consent").GetProperty("transcription").GetBoolean());
        Assert.Equal(0, read.GetProperty("participants").GetArrayLength());
    }

    [Fact]
    public async Task Create_response_links_the_candidate_page_on_the_callers_host_with_the_token_in_the_fragment()
    {
        var response = await _a.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-url", jobId = "job-1" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("sessionId").GetString()!;
        var token = created.GetProperty("candidateToken").GetString()!;

        var url = new Uri(created.GetProperty("candidateUrl").GetString()!);
        Assert.True(url.IsAbsoluteUri);
        Assert.Equal(_a.BaseAddress!.GetLeftPart(UriPartial.Authority), url.GetLeftPart(UriPartial.Authority));
        Assert.Equal($"/interview/{id}", url.AbsolutePath);
        Assert.Empty(url.Query); // the token never travels to a server: only the fragment holds it
        Assert.Equal($"#token={token}", url.Fragment);

        var page = await _a.GetAsync(url); // HttpClient drops the fragment, as browsers do
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Complete_returns_202_and_a_second_complete_is_a_409_problem()
    {
        var id = await CreateAsync(_a);
        var done = await _a.PostAsync($"/v1/interviews/{id}/complete", null);
        Assert.Equal(HttpStatusCode.Accepted, done.StatusCode);
        Assert.Equal("Completed", (await done.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        var again = await _a.PostAsync($"/v1/interviews/{id}/complete", null);
        await AssertProblemAsync(again, HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer ")]
    public async Task Requests_without_a_valid_key_get_401_problem_details_and_write_nothing(string? authorization)
    {
        var before = LiveSessions;
        var client = system.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/interviews")
        {
            Content = JsonContent.Create(new { candidateId = "c", jobId = "j" }),
        };
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.Unauthorized);
        Assert.Equal(before, LiveSessions);
    }

    [Fact]
    public async Task Another_tenant_gets_404_for_reads_and_completes_and_the_session_is_untouched()
    {
        var id = await CreateAsync(_a);
        await AssertProblemAsync(await _b.GetAsync($"/v1/interviews/{id}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await _b.PostAsync($"/v1/interviews/{id}/complete", null), HttpStatusCode.NotFound);
        var read = await _a.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");
        Assert.Equal("WaitingForParticipants", read.GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("{\"candidateId\":")]
    [InlineData("not json")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"candidateId\": 12, \"jobId\": \"j\"}")]
    public async Task Malformed_json_is_a_400_problem_and_writes_nothing(string body)
    {
        var before = LiveSessions;
        var response = await _a.PostAsync("/v1/interviews", new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(before, LiveSessions);
    }

    [Theory]
    [InlineData("{}", "candidateId")]
    [InlineData("{\"candidateId\":\"c\"}", "jobId")]
    [InlineData("{\"candidateId\":\"  \",\"jobId\":\"j\"}", "candidateId")]
    [InlineData("{\"candidateId\":\"c\",\"jobId\":\"j\",\"provider\":\"no spaces allowed\"}", "provider")]
    [InlineData("{\"candidateId\":\"c\",\"jobId\":\"j\",\"regionPings\":{\"eu\":-5}}", "regionPings.eu")]
    [InlineData("{\"candidateId\":\"c\",\"jobId\":\"j\",\"rubric\":{\"criteria\":[]}}", "rubric.criteria")]
    [InlineData("{\"candidateId\":\"c\",\"jobId\":\"j\",\"rubric\":{\"criteria\":[{\"name\":\"a\",\"weight\":0.4}]}}", "rubric.criteria.weight")]
    public async Task Missing_or_invalid_fields_are_a_400_validation_problem_naming_the_field(string body, string field)
    {
        var before = LiveSessions;
        var response = await _a.PostAsync("/v1/interviews", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(before, LiveSessions);
    }

    [Fact]
    public async Task Oversized_body_is_a_413_problem_and_writes_nothing()
    {
        var before = LiveSessions;
        var huge = new string('a', 200_000);
        var response = await _a.PostAsync("/v1/interviews",
            new StringContent($"{{\"candidateId\":\"{huge}\",\"jobId\":\"j\"}}", Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(before, LiveSessions);
    }

    [Theory]
    [InlineData("xyz")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("..%2F..%2Fetc")]
    public async Task Malformed_session_ids_are_a_400_problem(string id)
    {
        await AssertProblemAsync(await _a.GetAsync($"/v1/interviews/{id}"), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await _a.PostAsync($"/v1/interviews/{id}/complete", null), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_session_id_is_a_404_problem_and_is_not_created_by_asking()
    {
        var id = SessionIds.New();
        await AssertProblemAsync(await _a.GetAsync($"/v1/interviews/{id}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await _a.PostAsync($"/v1/interviews/{id}/complete", null), HttpStatusCode.NotFound);
        await AssertProblemAsync(await _a.GetAsync($"/v1/interviews/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Health_and_openapi_are_served()
    {
        var client = system.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var openapi = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/v1/interviews", out _));
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }
}
