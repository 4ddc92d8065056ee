using Microsoft.AspNetCore.Http;
using Orleans.Serialization;
using VoiceActors.Gateway.Errors;
using VoiceActors.Regions;

namespace VoiceActors.Tests.Gateway;

/// <summary>The gateway's one table from typed grain errors to RFC 9457 problem details, row by row.</summary>
public sealed class GrainExceptionHandlerTests
{
    public static TheoryData<Exception, int, string, string?, string?> Rows => new()
    {
        { new SessionNotFoundException("s1"), 404, "Interview not found", null, null },
        { new InvalidSessionTransitionException("s1", SessionStatus.Completed, SessionStatus.Active), 409, "Invalid state transition", null, null },
        { new SessionAlreadyExistsException("s1"), 409, "Interview already exists", null, null },
        { new RequestValidationException("candidateId", "is required"), 400, "Invalid request", null, null }, // a session's rule
        { new RequestValidationException("regionPings.eu", "must be a round-trip time"), 400, "Invalid request", null, null }, // a region's rule
        { new RegionCapacityExceededException("eu", 10, 10, 5), 429, "Region at capacity", "5", "eu" },
        { new NoHealthyRegionException(7), 503, "No healthy region", "7", null },
        { new UnknownRegionException("mars", ["eu"]), 404, "Unknown region", null, "mars" },
        { new LastHealthyRegionException("eu"), 409, "Last healthy region", null, "eu" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Each_typed_error_is_one_problem_with_its_status(Exception error, int status, string title, string? retryAfter, string? region)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Response.Body = new MemoryStream();

        Assert.True(await new GrainExceptionHandler(services.GetRequiredService<IProblemDetailsService>()).TryHandleAsync(http, error, default));

        Assert.Equal(status, http.Response.StatusCode);
        Assert.Equal("application/problem+json", http.Response.ContentType);
        Assert.Equal(retryAfter, http.Response.Headers.RetryAfter.FirstOrDefault());
        http.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body);
        Assert.Equal((status, title, error.Message), (problem.GetProperty("status").GetInt32(), problem.GetProperty("title").GetString(), problem.GetProperty("detail").GetString()));
        Assert.Equal(region, problem.TryGetProperty("region", out var r) ? r.GetString() : null);
    }

    [Fact]
    public async Task An_error_outside_the_table_is_left_to_the_default_handler()
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var handler = new GrainExceptionHandler(services.GetRequiredService<IProblemDetailsService>());
        Assert.False(await handler.TryHandleAsync(new DefaultHttpContext { RequestServices = services }, new InvalidOperationException("boom"), default));
    }

    [Fact]
    public void The_validation_error_crosses_a_grain_call_with_its_field_and_problem()
    {
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(RequestValidationException).Assembly))
            .BuildServiceProvider().GetRequiredService<Serializer>();
        var back = Assert.IsType<RequestValidationException>(serializer.Deserialize<Exception>(
            serializer.SerializeToArray<Exception>(new RequestValidationException("rubric.scaleMax", "must be between 1 and 100"))));
        Assert.Equal(("rubric.scaleMax", "must be between 1 and 100", "rubric.scaleMax: must be between 1 and 100"), (back.Field, back.Problem, back.Message));
    }
}
