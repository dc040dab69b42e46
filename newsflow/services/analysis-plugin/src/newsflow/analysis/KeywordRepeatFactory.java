package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.KeywordRepeatFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** analysis-common's {@code keyword_repeat} token filter: each word twice, once marked to stay as it is (unstemmed). */
@NamedComponent("newsflow_keyword_repeat")
public class KeywordRepeatFactory implements TokenFilterFactory {

    @Override
    public TokenStream create(TokenStream input) {
        return new KeywordRepeatFilter(input);
    }
}
