"""The business's content: FAQs, products, stores and rules, loaded from knowledge_base/."""
