namespace VoiceActors;

/// <summary>
/// A request is wrong (a missing or malformed field), whichever grain or rule found it: a session create, a rubric, a frame,
/// a region's health mode, a ping. Nothing was changed. The gateway maps it to one 400 problem naming <see cref="Field"/>.
/// </summary>
[GenerateSerializer, Alias("va.RequestValidationException")]
public sealed class RequestValidationException(string field, string problem) : Exception($"{field}: {problem}")
{
    [Id(0)] public string Field { get; } = field;
    [Id(1)] public string Problem { get; } = problem;
}
