namespace Microsoft.Extensions.Options;

/// <summary>
/// An options validator that reports every problem at once: <see cref="Check"/> adds one message per problem, each saying what
/// to fix, and none means the options are valid.
/// </summary>
public abstract class OptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var errors = new List<string>();
        Check(name, options, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    protected abstract void Check(string? name, TOptions o, List<string> errors);
}
