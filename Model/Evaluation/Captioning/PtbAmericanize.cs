using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace Platform.Model.Evaluation.Captioning;

/// <summary>
/// The British-to-American respelling the Stanford PTB tokenizer applies to word tokens by default
/// (its "americanize" option), which the COCO caption evaluation inherits: "grey" -> "gray",
/// "colour" -> "color", "centre" -> "center". It runs before lower-casing and is case-sensitive,
/// so a capitalised "Grey" stays "grey" while "grey" becomes "gray"; reproduced as is.
/// </summary>
public static partial class PtbAmericanize
{
    const int MinimumLengthChanged = 4;
    const int MinimumLengthForPatterns = 6;

    /// <summary>Whole-word respellings (reference data of the Stanford tokenizer).</summary>
    static readonly FrozenDictionary<string, string> Respellings = BuildRespellings();

    static FrozenDictionary<string, string> BuildRespellings()
    {
        // British spelling -> American spelling, as pairs.
        string[] pairs =
        [
            "anaesthetic", "anesthetic", "analogue", "analog", "analogues", "analogs", "analyse", "analyze", "analysed", "analyzed",
            "analysing", "analyzing", "armoured", "armored", "cancelled", "canceled", "cancelling", "canceling", "candour", "candor",
            "capitalise", "capitalize", "capitalised", "capitalized", "capitalisation", "capitalization", "centre", "center",
            "chimaeric", "chimeric", "clamour", "clamor", "coloured", "colored", "colouring", "coloring", "colourful", "colorful",
            "defence", "defense", "Defence", "Defense", "discolour", "discolor", "discolours", "discolors", "discoloured", "discolored",
            "discolouring", "discoloring", "encyclopaedia", "encyclopedia", "endeavour", "endeavor", "endeavours", "endeavors",
            "endeavoured", "endeavored", "endeavouring", "endeavoring", "fervour", "fervor", "favour", "favor", "favours", "favors",
            "favoured", "favored", "favouring", "favoring", "favourite", "favorite", "favourites", "favorites", "fibre", "fiber",
            "fibres", "fibers", "finalise", "finalize", "finalised", "finalized", "finalising", "finalizing", "flavour", "flavor",
            "flavours", "flavors", "flavoured", "flavored", "flavouring", "flavoring", "glamour", "glamour", "grey", "gray",
            "harbour", "harbor", "harbours", "harbors", "homologue", "homolog", "homologues", "homologs", "honour", "honor",
            "honours", "honors", "honoured", "honored", "honouring", "honoring", "honourable", "honorable", "humour", "humor",
            "humours", "humors", "humoured", "humored", "humouring", "humoring", "kerb", "curb", "labelled", "labeled",
            "labelling", "labeling", "labour", "labor", "Labour", "Labor", "labours", "labors", "laboured", "labored",
            "labouring", "laboring", "leant", "leaned", "learnt", "learned", "localise", "localize", "localised", "localized",
            "manoeuvre", "maneuver", "manoeuvres", "maneuvers", "maximise", "maximize", "maximised", "maximized", "maximising", "maximizing",
            "meagre", "meager", "minimise", "minimize", "minimised", "minimized", "minimising", "minimizing", "modernise", "modernize",
            "modernised", "modernized", "modernising", "modernizing", "misdemeanour", "misdemeanor", "misdemeanours", "misdemeanors",
            "neighbour", "neighbor", "neighbours", "neighbors", "neighbourhood", "neighborhood", "neighbourhoods", "neighborhoods",
            "oestrogen", "estrogen", "oestrogens", "estrogens", "organisation", "organization", "organisations", "organizations",
            "penalise", "penalize", "penalised", "penalized", "popularise", "popularize", "popularised", "popularized",
            "popularises", "popularizes", "popularising", "popularizing", "practise", "practice", "practised", "practiced",
            "pressurise", "pressurize", "pressurised", "pressurized", "pressurises", "pressurizes", "pressurising", "pressurizing",
            "realise", "realize", "realised", "realized", "realising", "realizing", "realises", "realizes", "recognise", "recognize",
            "recognised", "recognized", "recognising", "recognizing", "recognises", "recognizes", "rumoured", "rumored",
            "rumouring", "rumoring", "savour", "savor", "savours", "savors", "savoured", "savored", "savouring", "savoring",
            "splendour", "splendor", "splendours", "splendors", "theatre", "theater", "theatres", "theaters", "titre", "titer",
            "titres", "titers", "travelled", "traveled", "travelling", "traveling",
        ];
        var table = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < pairs.Length; i += 2)
            table[pairs[i]] = pairs[i + 1];
        return table.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [GeneratedRegex("haem(at)?o")] private static partial Regex Haemo();
    [GeneratedRegex("aemia$")] private static partial Regex Aemia();
    [GeneratedRegex("([lL])eukaem")] private static partial Regex Leukaem();
    [GeneratedRegex("programme(s?)$")] private static partial Regex Programme();
    [GeneratedRegex("^([a-z]{3,})our(s?)$")] private static partial Regex OurEnding();

    /// <summary>Words ending in "our" that are not British spellings of "-or" words.</summary>
    [GeneratedRegex("abatjour|beflour|bonjour|calambour|carrefour|cornflour|contour|de[tv]our|dortour|dyvour|downpour|giaour|glamour|holour|inpour|outpour|pandour|paramour|pompadour|recontour|repour|ryeflour|sompnour|tambour|troubadour|tregetour|velour")]
    private static partial Regex OurExceptions();

    /// <summary>The American spelling of a word token, or the token unchanged.</summary>
    public static string Apply(string word)
    {
        if (word.Length < MinimumLengthChanged)
            return word;
        if (Respellings.TryGetValue(word, out var american))
            return american;
        if (word.Length < MinimumLengthForPatterns)
            return word;
        // The first rule that matches decides, as in the tokenizer.
        if (Haemo().IsMatch(word)) return Haemo().Replace(word, "hem$1o");
        if (Aemia().IsMatch(word)) return Aemia().Replace(word, "emia");
        if (Leukaem().IsMatch(word)) return Leukaem().Replace(word, "$1eukem");
        if (Programme().IsMatch(word)) return Programme().Replace(word, "program$1");
        if (OurEnding().IsMatch(word) && !OurExceptions().IsMatch(word)) return OurEnding().Replace(word, "$1or$2");
        return word;
    }
}
