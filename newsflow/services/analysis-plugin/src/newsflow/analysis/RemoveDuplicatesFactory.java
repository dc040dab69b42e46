package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** analysis-common's {@code remove_duplicates} token filter: a word and its stem once where they are the same. */
@NamedComponent("newsflow_remove_duplicates")
public class RemoveDuplicatesFactory implements TokenFilterFactory {

    @Override
    public TokenStream create(TokenStream input) {
        return new RemoveDuplicatesTokenFilter(input);
    }
}
